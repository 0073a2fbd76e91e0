import math

import pytest

from exporter.reporting.quantiles import histogram_quantile, share_above

INF = math.inf


def test_the_quantile_is_interpolated_inside_the_bucket_that_holds_the_rank() -> None:
    # 100 observations: 50 up to 0.1 s, 40 more up to 0.5 s, 10 more up to 1 s
    buckets = {0.1: 50, 0.5: 90, 1.0: 100, INF: 100}
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.1)
    assert histogram_quantile(0.7, buckets) == pytest.approx(0.1 + 0.4 * 20 / 40)
    assert histogram_quantile(0.95, buckets) == pytest.approx(0.5 + 0.5 * 5 / 10)
    assert histogram_quantile(0.25, buckets) == pytest.approx(0.05)  # first bucket starts at 0


def test_a_rank_in_the_inf_bucket_is_the_highest_finite_bound() -> None:
    assert histogram_quantile(0.99, {0.1: 10, 1.0: 50, INF: 100}) == 1.0


def test_an_empty_or_incomplete_histogram_has_no_quantile() -> None:
    assert histogram_quantile(0.5, {0.1: 0, INF: 0}) is None
    assert histogram_quantile(0.5, {0.1: 5, 1.0: 9}) is None  # no +Inf bucket
    assert histogram_quantile(0.5, {}) is None


def test_counts_that_decrease_with_le_are_made_monotonic() -> None:
    # 0.5 s reads 8 (it should be >= 10): treated as 10, so the rank 15 lies in (0.5, 1]
    assert histogram_quantile(0.75, {0.1: 10, 0.5: 8, 1.0: 20, INF: 20}) == pytest.approx(0.75)


def test_the_share_above_a_bucket_bound_is_exact() -> None:
    buckets = {0.1: 50, 0.5: 90, 1.0: 100, INF: 100}
    assert share_above(0.5, buckets) == pytest.approx(0.1)
    assert share_above(0.3, buckets) is None
    assert share_above(0.5, {0.5: 0, INF: 0}) is None


def test_a_quantile_outside_0_1_is_refused() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        histogram_quantile(1.5, {INF: 1})
