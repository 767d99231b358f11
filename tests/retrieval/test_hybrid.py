import pytest

from xtalk.retrieval.hybrid import fuse


def test_an_item_both_rankings_agree_on_wins():
    assert fuse([["a", "b", "c"], ["b", "d", "a"]]) == ["b", "a", "d", "c"]


def test_scores_follow_the_reciprocal_rank_formula():
    # b: 1/(1+2) + 1/(1+1) = 0.833; a: 1/(1+1) + 1/(1+3) = 0.75; c: 1/(1+3) = 0.25
    assert fuse([["a", "b", "c"], ["b", "x", "a"]], k=1)[:2] == ["b", "a"]


def test_ties_keep_the_order_first_met():
    assert fuse([["a", "b"], ["b", "a"]]) == ["a", "b"]
    assert fuse([["x"], ["y"], ["z"]]) == ["x", "y", "z"]


def test_repeats_count_once_at_their_first_rank():
    assert fuse([["a", "a", "a"], ["b"]]) == ["a", "b"]


def test_single_and_empty_rankings():
    assert fuse([["c", "a", "b"]]) == ["c", "a", "b"]
    assert fuse([]) == []
    assert fuse([[], ["a"]]) == ["a"]


def test_weights_tilt_the_fusion():
    assert fuse([["a", "b"], ["b", "a"]], weights=[1.0, 2.0]) == ["b", "a"]
    with pytest.raises(ValueError):
        fuse([["a"]], weights=[1.0, 1.0])
    with pytest.raises(ValueError):
        fuse([["a"]], k=-1)


def test_works_on_any_hashable_id():
    assert fuse([[3, 1], [1, 2]]) == [1, 3, 2]
    assert fuse([[("doc", 0), ("doc", 1)], [("doc", 1)]]) == [("doc", 1), ("doc", 0)]
