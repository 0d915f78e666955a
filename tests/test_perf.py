"""The benchmark script runs end to end on reduced shapes and writes a complete table; its projection counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.perf import main
from bench.perf.projection import EVALUATION_SHARE, evaluations, plans
from tests.conftest import compose_config


@pytest.mark.slow
def test_perf_script_writes_every_figure_with_a_verdict(tmp_path: Path) -> None:
    out = tmp_path / "perf.md"
    assert main(["--quick", "--repeats", "1", "--out", str(out), "--data-root", str(tmp_path)]) == 0
    text = out.read_text()
    assert text.startswith("<!-- Regenerate: python -m bench.perf -->")
    needles = ("- commit: ", "- date: ", " measured in ", "- CPU: ", "- GPU: ", "- libraries: ")
    needles += ("--quick: reduced shapes",)
    for needle in needles:
        assert needle in text
    rows = [line.split(" | ") for line in text.splitlines() if line.startswith("| ") and "---" not in line][1:]
    figures = " ".join(row[0] for row in rows)
    for expected in (
        "sampling",
        "MLE step",
        "CoT iteration",
        "SeqGAN rewards",
        "full synthetic evaluation",
        "BLEU-2..5",
        "projected paper_synthetic, cot",
        "peak memory",
    ):
        assert expected in figures
    verdicts = [row[-1].rstrip(" |") for row in rows]
    assert set(verdicts) <= {"met", "**missed**", "n/a", ""}
    rewards = next(row for row in rows if row[0].startswith("| SeqGAN rewards"))
    assert rewards[-2:] == ["", " |"] or rewards[-1].strip(" |") == ""  # reported without a verdict
    projected = [row for row in rows if "projected paper_synthetic" in row[0]]
    assert len(projected) == 3 and all(" h (training " in row[1] and "evaluation" in row[1] for row in projected)
    assert "skipped: COCO files not found" in text  # no data under tmp_path: said, not hidden
    for experiment, name in (("paper_coco", "coco"), ("paper_emnlp", "emnlp_news")):
        skipped = next(row for row in rows if row[0] == f"| {experiment}: unit times on {name}")
        assert skipped[1].startswith("skipped: dataset.train_file: ") and "no such file" in skipped[1]


def test_perf_rejects_bad_arguments(capsys: pytest.CaptureFixture) -> None:
    assert main(["--repeats", "0"]) == 2
    assert "--repeats=0: must be at least 1" in capsys.readouterr().err
    assert main(["device=tpu"]) == 2
    assert capsys.readouterr().err.strip() == "error: device=tpu: must be auto, cpu, cuda or cuda:N"


def test_evaluations_are_counted_as_the_loop_evaluates() -> None:
    assert evaluations(18_750, 5000) == 5  # 0, 5000, 10000, 15000, 18750
    assert evaluations(200_000, 5000) == 41  # 0, 5000, ..., 200000
    assert evaluations(10, 3, phase_ends=2) == 1 + 3 + 1 + 2
    # long_synthetic's also_at: 100 and 200 are extra; 750 is already on the grid, 20,000 past the end
    assert evaluations(10_000, 750, also_at=[100, 200, 750, 20_000]) == 1 + 13 + 1 + 2


@pytest.mark.parametrize("experiment", ["paper_synthetic", "paper_coco", "paper_emnlp"])
def test_reference_experiments_keep_evaluation_under_a_tenth_of_the_time(experiment: str) -> None:
    """With the CPU figures of results/perf.md (MLE step 33.7 ms, CoT 198.7 ms, evaluation 11.67 s):
    each algorithm's evaluations take at most 10 % of its projected time. MLE is the tight case. Text steps
    and evaluations both cost more than synthetic ones; the same ratio is assumed for the text experiments."""
    cfg = compose_config(f"experiment={experiment}")
    step = {"mle": 0.0337, "cot": 0.1987, "rewards": 11.04, "d_round": 75.84}
    for name, (steps, training, phase_ends) in plans(step, dict(cfg.steps_by_algorithm)).items():
        evaluating = evaluations(steps, cfg.eval.every, phase_ends) * 11.67 * cfg.eval.n_samples / 10_000
        assert evaluating / (training + evaluating) <= EVALUATION_SHARE, (experiment, name)


@pytest.mark.slow
def test_text_projection_times_the_units_on_the_experiments_own_data() -> None:
    """paper_coco's projection comes from COCO's own unit times: one row of them, then one per algorithm."""
    import torch

    from bench.perf.figures import QUICK
    from bench.perf.text_units import text_projection
    from tests.conftest import DATA_ROOT

    if not (DATA_ROOT / "coco" / "image_coco.txt").is_file():
        pytest.skip(f"COCO files not found under {DATA_ROOT}")
    head, *projected = text_projection("paper_coco", DATA_ROOT, torch.device("cpu"), 1, QUICK)
    assert head.figure == "paper_coco: unit times on coco (T = 38, V = 4,663)"
    for unit in ("MLE step ", "CoT iteration ", "SeqGAN rewards ", "D round ", "evaluation of 300 "):
        assert unit in head.ours
    assert [row.figure.split(",")[1].strip() for row in projected] == ["mle", "cot", "seqgan_reference"]
    assert all("evaluation timed at 300 samples, not 10,000" in row.ours for row in projected)
    assert projected[0].figure.endswith("(12,480 steps, 3 evaluations of 10,000)")
