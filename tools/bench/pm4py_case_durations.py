"""The reference pipeline for `cargo bench --bench case_import`: pm4py reads an XES log, formats
it (time, then file order) and computes every case's duration. Prints the seconds it took.

Needs pm4py (`pip install pm4py==2.7.23.11`); never a runtime dependency of Switchboard.
"""
import sys
import time

started = time.perf_counter()
import pm4py  # noqa: E402  (the import is part of what a user pays)

log = pm4py.read_xes(sys.argv[1], return_legacy_log_object=False)
log = pm4py.format_dataframe(log, case_id="case:concept:name", activity_key="concept:name", timestamp_key="time:timestamp")
durations = pm4py.get_all_case_durations(log)
elapsed = time.perf_counter() - started
print(f"{elapsed:.3f} {len(durations)}")
