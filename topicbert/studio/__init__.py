"""What the pages show: frames from the store and run folders (who a run is: run_identity; the runs table:
runs_table; the Corpora page's: storage_tables; Compare's runs and seed groups: compare_choices, its curves:
compare_curves, its summary: compare_summary, its F1 against CO2: pareto_points; what a run cost: run_cost), plotly
figures (one visualize_* per figure), the LDAvis page, the Train page's configs and projections, Compare's
intervals and test sets, early-stop replay (early_stop), where the topic branch helps (topic_gains), topic
stability (topic_stability), the measurement-trust badge (trust), text escaping for Markdown, a run's model
put to use (classify: loading it, exporting it with its model card, the Classify page), and a file classified
as a job in the queue (predict_job: the job's process, its chunks and what the pages show of jobs), Compare's
verdict card (verdict_card) and its HTML report (report), Home's demo state and latest answer (home), a run's
settings side by side (run_settings), and one format for durations and energy (units).
Plain data in, plain data or figures out: never streamlit itself, so all of it is testable.

May import: config, paths, model, data, training, energy, runs, inference, stats.
"""
