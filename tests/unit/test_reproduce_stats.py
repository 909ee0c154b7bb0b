"""Paired statistics and verdicts: intervals, McNemar, Holm, power, equivalence."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from aibnb.reproduce import pooled, stats


def test_paired_interval_is_the_t_interval_of_the_differences():
    d = [0.4, 1.1, 0.7, 0.9, 0.2]
    mean, lo, hi = stats.paired_interval(d)
    ref = sps.t.interval(0.95, len(d) - 1, loc=np.mean(d), scale=sps.sem(d))
    assert mean == pytest.approx(np.mean(d)) and (lo, hi) == pytest.approx(ref)
    assert stats.paired_interval([1.0])[1:] == (-math.inf, math.inf)
    with pytest.raises(ValueError, match="diffs must be"):
        stats.paired_interval([1.0, float("nan")])


def test_paired_t_p_matches_scipy():
    a, b = np.array([10.2, 9.8, 10.5, 10.1]), np.array([10.9, 10.0, 11.2, 10.4])
    assert stats.paired_t_p(b - a) == pytest.approx(sps.ttest_rel(b, a).pvalue)


def test_mcnemar_counts_discordant_images_over_seeds():
    a = np.array([[1, 1, 0, 1], [1, 0, 1, 1]], dtype=bool)
    b = np.array([[1, 0, 0, 0], [1, 0, 0, 1]], dtype=bool)
    only_a, only_b, p = stats.mcnemar(a, b)
    assert (only_a, only_b) == (3, 0) and p == pytest.approx(0.25)  # 2 * 0.5**3
    assert stats.mcnemar(a, a)[2] == 1.0
    with pytest.raises(ValueError, match="paired"):
        stats.mcnemar(a, b[:, :3])


def test_holm_adjusts_step_down_and_keeps_nan():
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    out = stats.holm([0.02, float("nan"), 0.5])
    assert out[0] == pytest.approx(0.04) and math.isnan(out[1]) and out[2] == pytest.approx(0.5)


def test_detectable_difference_has_the_stated_power():
    """Simulated paired t-tests at the returned difference reject about 80 % of the time."""
    n, sd = 5, 1.3
    delta = stats.detectable_difference(sd, n)
    rng = np.random.default_rng(0)
    d = rng.normal(delta, sd, size=(20000, n))
    p = sps.ttest_1samp(d, 0.0, axis=1).pvalue
    assert np.mean(p < 0.05) == pytest.approx(0.8, abs=0.015)
    # large n: the normal approximation (z_0.975 + z_0.8) sd / sqrt(n)
    assert stats.detectable_difference(1.0, 1000) == pytest.approx(2.8016 / math.sqrt(1000), rel=0.01)
    assert stats.detectable_difference(1.0, 1) == math.inf


def test_tost_is_the_90_percent_interval_inside_the_margin():
    rng = np.random.default_rng(1)
    for _ in range(50):
        d = rng.normal(rng.uniform(-0.6, 0.6), rng.uniform(0.05, 0.5), size=5)
        _, lo, hi = stats.paired_interval(d, level=0.90)
        assert (stats.tost(d, 0.5) < 0.05) == (lo > -0.5 and hi < 0.5)
    with pytest.raises(ValueError, match="margin"):
        stats.tost([0.1, 0.2], 0.0)


def test_the_verdict_is_read_from_the_interval_it_shows():
    assert stats.verdict_of_interval(0.6, 2.0) == "held"
    assert stats.verdict_of_interval(-2.0, -0.6) == "reversed"
    assert stats.verdict_of_interval(-0.3, 2.0) == "undecided"
    assert stats.verdict_of_interval(-0.2, 0.3) == "equivalent at this scale"
    assert stats.verdict_of_interval(0.1, 0.4) == "equivalent at this scale"  # significant but tiny
    assert stats.verdict_of_interval(-math.inf, math.inf) == "undecided"
    assert stats.VERDICTS[-1] == stats.NOT_TESTABLE == "not testable at this scale"


def test_holm_levels_reject_exactly_where_holm_s_adjusted_p_does():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(3)
    for trial in range(200):
        p = rng.uniform(0, 0.1, size=rng.integers(1, 9)) ** rng.uniform(0.5, 3)
        levels = stats.holm_levels(p)
        assert [pi < lv for pi, lv in zip(p, levels)] == [h < 0.05 for h in stats.holm(p)]
        if trial < 12:  # statsmodels' multipletests is slow (tens of ms a call): a sample suffices
            reject, adjusted, *_ = multipletests(p, alpha=0.05, method="holm")
            assert [pi < lv for pi, lv in zip(p, levels)] == list(reject)
            assert stats.holm(p) == pytest.approx(list(adjusted))
    assert math.isnan(stats.holm_levels([0.01, float("nan")])[1])


def test_decided_intervals_agree_with_their_verdicts_and_holm():
    """Every decided claim's interval excludes zero exactly when Holm's adjusted p is below 0.05,
    its verdict is the interval's, and the detectable difference is computed at its own level."""
    rng = np.random.default_rng(4)
    for _ in range(40):
        results = []
        for k in range(rng.integers(1, 7)):
            n = int(rng.integers(3, 9))
            a = {s: 10 + rng.normal(0, 1) for s in range(n)}
            b = {s: v + rng.normal(rng.uniform(-2, 2), rng.uniform(0.1, 1.5)) for s, v in a.items()}
            results.append(stats.paired_claim(f"c{k}", f"a{k}", f"b{k}", a, b))
        for r in stats.decide(results):
            excludes = r.ci_low > 0 or r.ci_high < 0
            assert excludes == (r.p_seeds_holm < 0.05)
            assert r.verdict == stats.verdict_of_interval(r.ci_low, r.ci_high, r.margin)
            sd = np.std(list(r.advantages.values()), ddof=1)
            assert r.detectable == pytest.approx(stats.detectable_difference(sd, r.n, alpha=r.level))
            assert r.level <= 0.05 and set(r.leave_one_out) == set(r.advantages)


def test_leave_one_out_flags_a_verdict_that_rests_on_one_seed():
    a = {s: 10.0 for s in range(5)}
    steady = stats.paired_claim("steady", "a", "b", a, {0: 11.0, 1: 11.2, 2: 10.9, 3: 11.1, 4: 11.0})
    fragile = stats.paired_claim("fragile", "a", "c", a, {0: 11.0, 1: 10.1, 2: 11.9, 3: 10.6, 4: 11.4})
    steady, fragile = stats.decide([steady]) + stats.decide([fragile])
    assert steady.verdict == "held" and steady.robust
    assert fragile.verdict == "held" and not fragile.robust
    assert "undecided" in fragile.leave_one_out.values()


def test_a_claim_that_is_not_testable_stays_out_of_holm_s_family():
    ok = stats.paired_claim("ok", "a", "b", {0: 1.0, 1: 1.1, 2: 0.9}, {0: 3.0, 1: 3.2, 2: 2.9})
    gone = stats.untestable("gone", "a", "c", "c did not learn the task", n=3)
    out = stats.decide([ok, gone])
    assert out[1].verdict == "not testable at this scale" and out[1].reason == "c did not learn the task"
    assert out[0].level == pytest.approx(0.05)  # a family of one testable claim


def test_the_pooled_model_is_ordinary_least_squares_with_model_and_seed_effects():
    import pandas as pd
    import statsmodels.formula.api as smf

    rng = np.random.default_rng(5)
    seed_effect = rng.normal(0, 1.0, 5)
    values = {
        m: {s: 10 + shift + seed_effect[s] + rng.normal(0, 0.3) for s in range(n)}
        for m, shift, n in (("a", 0.0, 5), ("b", 1.0, 5), ("c", 0.5, 3))
    }
    contrasts = pooled.pooled_contrasts(values, [("a", "b"), ("a", "c")])
    frame = pd.DataFrame([{"m": m, "s": s, "y": v} for m, vs in values.items() for s, v in vs.items()])
    fit = smf.ols("y ~ C(m) + C(s)", frame).fit()
    assert contrasts["a", "b"].advantage == pytest.approx(fit.params["C(m)[T.b]"])
    assert contrasts["a", "b"].se == pytest.approx(fit.bse["C(m)[T.b]"])
    assert contrasts["a", "c"].p == pytest.approx(fit.pvalues["C(m)[T.c]"])
    assert contrasts["a", "b"].df == int(fit.df_resid)
    pooled.decide_pooled(list(contrasts.values()))
    assert contrasts["a", "b"].verdict == "held" and contrasts["a", "b"].ci_low > 0


def test_the_short_implementations_agree_with_statsmodels():
    from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
    from statsmodels.stats.power import TTestPower
    from statsmodels.stats.weightstats import ttost_paired

    d = np.array([0.2, -0.1, 0.15, 0.05, 0.1])
    p_sm, *_ = ttost_paired(d, np.zeros_like(d), -0.5, 0.5)
    assert stats.tost(d, 0.5) == pytest.approx(p_sm)
    a = np.array([1, 1, 0, 1, 1, 0, 1, 1, 1, 0], dtype=bool)
    b = np.array([1, 0, 0, 0, 1, 0, 0, 1, 1, 1], dtype=bool)
    only_a, only_b, p = stats.mcnemar(a, b)
    table = [[int((a & b).sum()), only_a], [only_b, int((~a & ~b).sum())]]
    assert p == pytest.approx(sm_mcnemar(table, exact=True).pvalue)
    delta = stats.detectable_difference(1.3, 8, alpha=0.05 / 12)
    power = TTestPower().power(effect_size=delta / 1.3, nobs=8, alpha=0.05 / 12, alternative="two-sided")
    assert power == pytest.approx(0.8, abs=1e-3)


def test_paired_claim_orients_the_advantage_and_decide_applies_holm():
    err_a = {0: 9.0, 1: 9.2, 2: 8.9, 3: 9.1, 4: 9.0}
    err_b = {0: 10.0, 1: 10.1, 2: 10.0, 3: 10.2, 4: 9.9, 5: 3.0}  # seed 5 has no partner: ignored
    r = stats.paired_claim("a beats b", "a", "b", err_a, err_b)
    assert r.n == 5 and r.advantage == pytest.approx(1.0) and r.ci_low > 0
    noise = {0: 0.05, 1: -0.04, 2: 0.02, 3: 0.0, 4: -0.03}
    same = stats.paired_claim("a ties c", "a", "c", err_a, {s: v + noise[s] for s, v in err_a.items()})
    out = stats.decide([r, same])
    assert [x.verdict for x in out] == ["held", "equivalent at this scale"]
    assert out[0].p_seeds_holm >= out[0].p_seeds
    scores = stats.paired_claim(
        "higher score", "a", "b", {0: 80, 1: 82}, {0: 70, 1: 71}, lower_is_better=False
    )
    assert scores.advantage == pytest.approx(10.5)
    with pytest.raises(ValueError, match="share no seed"):
        stats.paired_claim("x", "a", "b", {0: 1.0}, {1: 2.0})


def test_summarize_gives_the_sample_std_and_counts():
    s = stats.summarize([1.0, 2.0, 3.0])
    assert s.mean == 2.0 and s.std == 1.0 and s.n == 3  # ddof = 1
    assert str(s) == "2.00 ± 1.00"
    one = stats.summarize([4.5])
    assert one.n == 1 and math.isnan(one.std) and one.format() == "4.50 (n=1)"
    with pytest.raises(ValueError, match="empty"):
        stats.summarize([])
    with pytest.raises(ValueError, match="finite"):
        stats.summarize([1.0, float("nan")])


def test_summarize_is_numpys_mean_and_sample_std_to_the_bit():
    """Summaries computed with numpy elsewhere: the one summary must give the same bits."""
    values = [20.009999999999998, 21.01, 23.300000000000004]
    s = stats.summarize(iter(values))
    assert s.mean == float(np.mean(values)) and s.std == float(np.std(values, ddof=1))


def test_paired_bootstrap_p_finds_a_shift_and_not_noise():
    rng = np.random.default_rng(1)
    noise = rng.normal(0.0, 1.0, 400)
    assert stats.paired_bootstrap_p(noise - noise.mean()) > 0.5  # exactly no mean difference
    assert stats.paired_bootstrap_p(noise + 0.5) < 0.001  # half a standard deviation over 400 images
    p = stats.paired_bootstrap_p(noise + 0.1, resamples=4000)
    t = sps.ttest_1samp(noise + 0.1, 0.0).pvalue
    assert abs(p - t) < 0.05  # the bootstrap agrees with the t-test where the t-test is exact enough
    assert stats.paired_bootstrap_p([1.0]) == 1.0


def test_paired_claim_tests_continuous_per_image_scores_by_bootstrap():
    gain = {0: np.full(300, 5.0) + np.linspace(-1, 1, 300), 1: np.full(300, 4.0)}
    r = stats.paired_claim("a above b", "a", "b", {0: 60.0, 1: 58.0}, {0: 55.0, 1: 54.0},
                           image_advantage=gain, lower_is_better=False)
    assert r.advantage == 4.5 and r.only_a_right is None and r.p_images < 0.001
