"""Grading a submission: rubric, points per case part, Gradescope's results.json, the student's
summaries, and the per-student variants of the cases (refbp grade, refbp cases variant)."""
