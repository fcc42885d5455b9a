"""Evaluation: the one protocol every model is measured by (protocol.py), the test-split path shared by
the evaluate stage and the promotion gate (on_test.py), and the leaderboard and its reports (reports.py)."""

from mindshare.evaluation.protocol import (
    Evaluation,
    TestSet,
    activity_bucket,
    breakdown,
    breakdown_metrics,
    build_test_set,
    evaluate_model,
    hit_matrix,
    item_feature_matrix,
    new_item_metrics,
    new_user_metrics,
)

__all__ = [
    "Evaluation", "TestSet", "activity_bucket", "breakdown", "breakdown_metrics", "build_test_set", "evaluate_model",
    "hit_matrix", "item_feature_matrix", "new_item_metrics", "new_user_metrics",
]
