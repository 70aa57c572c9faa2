"""The statistics that compare runs: bootstrap intervals of macro-F1 over the test documents (bootstrap), a
figure's interval over seeds and documents and the verdict a difference may carry (noise), many verdicts side
by side with their exact tests and a correction for their number (many_verdicts), time to accuracy as MLPerf
measures it (time_to_accuracy), and the Pareto front of F1 against cost (pareto).
Numbers in, numbers out, with numpy and scipy alone: training's result files, the pages and the benchmarks
all read them.

May import: nothing else of topicbert.
"""
