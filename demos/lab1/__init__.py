"""The back-propagation lab reproduced with autograd_lite: `python -m demos.lab1`.

datasets (the course's two data sets and the run seeds), train (one run of a configured
network), experiments (the lab's experiments over seeds), report (console, report.md,
results.json) and figures (matplotlib and the backward graph).
"""
