"""Uplift modelling: learners of who buys because of a message, their tuning on the Qini coefficient."""
