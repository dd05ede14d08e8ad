"""The steps a plan is made of: each one concern, each returning a result (see ``plan.py``)."""
