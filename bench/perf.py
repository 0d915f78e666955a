"""`python -m bench.perf`: how fast the suite samples, trains and evaluates, against plain baselines.

Every figure is measured in one run on one machine, side by side with a plain implementation
written here (step-by-step `nn.LSTM`, softmax and `torch.multinomial`, fresh tensors every call;
loops over rollouts and time steps; nltk's `sentence_bleu`), as the median of several repeats with
the min-max range. Targets are checked against those ratios and the table says plainly which are
missed. The table is printed and written to results/perf.md (results/perf_<device>.md off the CPU)
with a description of the machine.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from algorithms.base import TrainingContext
from algorithms.cot import CoT, CoTConfig, generator_loss
from algorithms.discriminator import train_discriminator
from algorithms.generator import Generator, GeneratorConfig
from algorithms.mle import MLE, MLEConfig
from algorithms.rollout import complete_prefixes, rollout_rewards
from algorithms.seqgan import SeqGAN, SeqGANConfig
from bench.datasets.synthetic import SyntheticConfig, build_synthetic
from bench.evaluation import Evaluator
from bench.records import REPO_ROOT, atomic_write_text
from bench.runtime import resolve_device
from bench.schema import EvalConfig
from metrics.jsd import jsd_monte_carlo
from metrics.nll import mean_token_nll

BATCH = 64


@dataclass(frozen=True)
class Sizes:
    """What is measured: the reference shapes, or much smaller ones (`--quick`) to check the script."""

    n_eval: int = 10_000
    """Sequences per evaluation and per sampling measurement; sentences per BLEU side."""
    rollouts: int = 16
    rollout_batch: int = BATCH
    cot_iterations: int = 10
    """CoT iterations per timed repeat."""
    nltk_probe: int = 8
    """Hypotheses timed with nltk (per BLEU and self-BLEU), extrapolated to n_eval."""


QUICK = Sizes(n_eval=300, rollouts=2, rollout_batch=8, cot_iterations=2, nltk_probe=1)


# ----- timing -------------------------------------------------------------------------------------
@dataclass
class Timing:
    """Seconds per call: median over repeats, with the fastest and slowest."""

    median: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{_seconds(self.median)} [{_seconds(self.low)}–{_seconds(self.high)}]"


def _seconds(value: float) -> str:
    return f"{value * 1e3:.1f} ms" if value < 1 else f"{value:.2f} s"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device, repeats: int, warmup: int = 1, per_call: int = 1) -> Timing:
    """Time `fn` `repeats` times after `warmup` calls; `per_call` divides (several iterations per call)."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        samples.append((time.perf_counter() - start) / per_call)
    return Timing(statistics.median(samples), min(samples), max(samples))


# ----- plain baselines ----------------------------------------------------------------------------
class PlainLM(nn.Module):
    """The same LSTM language model written the plain way, holding a copy of a Generator's weights."""

    def __init__(self, generator: Generator) -> None:
        super().__init__()
        config = generator.config
        self.start_token = config.space.start_token
        self.seq_len = config.space.seq_len
        self.embedding = nn.Embedding(config.space.vocab_size, config.emb_dim)
        self.lstm = nn.LSTM(config.emb_dim, config.hidden_dim, batch_first=True)
        self.dropout = nn.Dropout(config.output_dropout)
        self.out = nn.Linear(config.hidden_dim, config.space.vocab_size)
        self.load_state_dict(generator.state_dict(), strict=False)
        self.to(next(generator.parameters()).device)

    def forward(self, tokens: Tensor) -> Tensor:
        start = torch.full_like(tokens[:, :1], self.start_token)
        hidden, _ = self.lstm(self.embedding(torch.cat([start, tokens[:, :-1]], dim=1)))
        return self.out(self.dropout(hidden))

    def sample(self, n: int, prefix: Tensor | None = None, prefix_length: int = 0) -> tuple[Tensor, Tensor]:
        """n sequences (and their log-probabilities), one `nn.LSTM` call and one multinomial per step."""
        device = self.out.weight.device
        token = torch.full((n, 1), self.start_token, dtype=torch.long, device=device)
        state, tokens, log_probs = None, [], []
        for t in range(self.seq_len):
            hidden, state = self.lstm(self.embedding(token), state)
            probs = torch.softmax(self.out(hidden[:, -1]), dim=-1)
            if t < prefix_length:
                token = prefix[:, t : t + 1]
            else:
                token = torch.multinomial(probs, 1)
            tokens.append(token)
            log_probs.append(probs.gather(1, token).log())
        return torch.cat(tokens, dim=1), torch.cat(log_probs, dim=1)

    def score(self, tokens: Tensor) -> Tensor:
        return self(tokens).log_softmax(-1).gather(2, tokens.unsqueeze(2)).squeeze(2)


def plain_evaluation(oracle: PlainLM, model: PlainLM, test: Tensor, oracle_on_test: Tensor, n: int) -> float:
    with torch.no_grad():
        samples, log_g = model.sample(n)
        oracle_on_samples = torch.cat([oracle.score(chunk) for chunk in samples.split(500)])
        model_on_test = torch.cat([model.score(chunk) for chunk in test.split(500)])
        mean_token_nll(oracle_on_samples)
        mean_token_nll(model_on_test)
        return jsd_monte_carlo(oracle_on_test, model_on_test.sum(1), log_g.sum(1), oracle_on_samples.sum(1))[0]


def plain_cot_iteration(g: PlainLM, m: PlainLM, g_opt, m_opt, real: Tensor) -> tuple[float, float]:
    """One CoT iteration the plain way; returns (generator seconds, mediator seconds)."""
    start = time.perf_counter()
    with torch.no_grad():
        tokens, _ = g.sample(BATCH)
        m.eval()
        m_logits = m(tokens)
    loss = generator_loss(g(tokens), m_logits, torch.ones_like(tokens, dtype=torch.bool))
    g_opt.zero_grad()
    loss.backward()
    g_opt.step()
    middle = time.perf_counter()
    with torch.no_grad():
        fake, _ = g.sample(BATCH)
    m.train()
    batch = torch.cat([real, fake])
    m_loss = -m.score(batch).mean()
    m_opt.zero_grad()
    m_loss.backward()
    m_opt.step()
    return middle - start, time.perf_counter() - middle


def plain_rewards(policy: PlainLM, discriminator, sequences: Tensor, n_rollouts: int) -> Tensor:
    """SeqGAN's reference structure: for each rollout, for each prefix length, complete and score."""
    batch, length = sequences.shape
    rewards = torch.zeros(batch, length, device=sequences.device)
    with torch.no_grad():
        for _ in range(n_rollouts):
            for t in range(1, length):
                completion, _ = policy.sample(batch, prefix=sequences, prefix_length=t)
                rewards[:, t - 1] += discriminator.prob_real(completion) / n_rollouts
        rewards[:, -1] = discriminator.prob_real(sequences)
    return rewards


# ----- the measurements ---------------------------------------------------------------------------
@dataclass
class Row:
    figure: str
    ours: str
    baseline: str
    ratio: str
    target: str
    met: str


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "**missed**")


def machine_description(device: torch.device) -> list[str]:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    lines = [
        f"- CPU: {cpu}; {os.cpu_count()} logical cores visible; torch threads: {torch.get_num_threads()}",
        f"- torch {torch.__version__}, Python {platform.python_version()}, {platform.system()} {platform.machine()}",
        f"- device: {device}" + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""),
    ]
    return lines


def measure(device: torch.device, repeats: int, data_root: Path | None, sizes: Sizes = Sizes()) -> list[Row]:
    rows: list[Row] = []
    rng = torch.Generator(device=device).manual_seed(0)
    torch.manual_seed(0)
    print("building the synthetic benchmark ...", file=sys.stderr)
    dataset = build_synthetic(SyntheticConfig())
    train = dataset.train.to(device)
    generator = Generator(GeneratorConfig(dataset.space, 32, 32)).to(device)
    plain_generator = PlainLM(generator)

    # Sampling throughput.
    print("sampling ...", file=sys.stderr)
    n_eval = sizes.n_eval
    tokens = n_eval * dataset.space.seq_len
    with torch.no_grad():
        ours = timed(lambda: generator.sample(n_eval, rng), device, repeats)
        plain = timed(lambda: plain_generator.sample(n_eval), device, repeats, warmup=0)
    ratio = plain.median / ours.median
    rows.append(
        Row(
            "sampling 10k x 20 (tokens/s)",
            f"{tokens / ours.median:,.0f} tok/s; {ours}",
            f"{tokens / plain.median:,.0f} tok/s; {plain}",
            f"{ratio:.1f}x",
            ">= 4x",
            _verdict(ratio >= 4),
        )
    )

    # One training step of each algorithm at batch 64.
    print("training steps ...", file=sys.stderr)
    context = TrainingContext(generator, train, rng, device)
    mle = MLE(MLEConfig(), context)
    t_mle = timed(mle.step, device, repeats, per_call=1, warmup=3)
    rows.append(Row("MLE step (batch 64)", str(t_mle), "", "", "", ""))

    cot = CoT(CoTConfig(), TrainingContext(Generator(generator.config).to(device), train, rng, device))
    iterations = sizes.cot_iterations
    t_cot = timed(lambda: [cot.step() for _ in range(iterations)], device, repeats, per_call=iterations)
    t_cot_g = timed(lambda: [cot.generator_step() for _ in range(iterations)], device, repeats, per_call=iterations)
    t_cot_m = timed(lambda: [cot.mediator_step() for _ in range(iterations)], device, repeats, per_call=iterations)
    g_plain, m_plain = PlainLM(cot.generator), PlainLM(cot.mediator)
    g_opt = torch.optim.Adam(g_plain.parameters(), lr=1e-3, betas=(0.9, 0.95))
    m_opt = torch.optim.Adam(m_plain.parameters(), lr=3e-3, betas=(0.9, 0.95))
    splits: list[tuple[float, float]] = []

    def plain_cot() -> None:
        for _ in range(iterations):
            splits.append(plain_cot_iteration(g_plain, m_plain, g_opt, m_opt, train[:BATCH]))

    t_cot_plain = timed(plain_cot, device, repeats, per_call=iterations)
    g_share = statistics.median(s[0] for s in splits)
    m_share = statistics.median(s[1] for s in splits)
    ratio = t_cot_plain.median / t_cot.median
    rows.append(
        Row(
            "CoT iteration (G step + M step, M 2x wide)",
            f"{t_cot} (G {_seconds(t_cot_g.median)}, M {_seconds(t_cot_m.median)})",
            f"{t_cot_plain} (G {_seconds(g_share)}, M {_seconds(m_share)})",
            f"{ratio:.1f}x",
            ">= 2x",
            _verdict(ratio >= 2),
        )
    )
    rows.append(Row("CoT iteration / MLE step", f"{t_cot.median / t_mle.median:.1f}x", "", "", "≈ 6x by FLOPs", ""))

    seqgan = SeqGAN(SeqGANConfig(), TrainingContext(Generator(generator.config).to(device), train, rng, device))
    discriminator = seqgan.discriminator.eval()
    with torch.no_grad():
        sequences = seqgan.generator.sample(sizes.rollout_batch, rng).tokens
        t_rewards = timed(lambda: seqgan.rewards(sequences), device, repeats)
        completions = complete_prefixes(seqgan.generator, sequences, sizes.rollouts, rng)
        t_d = timed(lambda: rollout_rewards(discriminator, sequences, completions), device, repeats)
        policy = PlainLM(seqgan.generator)
        t_rewards_plain = timed(
            lambda: plain_rewards(policy, discriminator, sequences, sizes.rollouts), device, max(1, repeats // 2)
        )
    ratio = t_rewards_plain.median / t_rewards.median
    rows.append(
        Row(
            "SeqGAN rewards, one G step (64 seqs, 16 rollouts, all prefixes, D included)",
            f"{t_rewards} (D {100 * t_d.median / t_rewards.median:.0f}%)",
            str(t_rewards_plain),
            f"{ratio:.1f}x",
            ">= 5x",
            _verdict(ratio >= 5),
        )
    )
    # One discriminator round at reference size = 3 epochs over 10k real + 10k negatives, batch 64:
    # timed on a slice and scaled by the number of batches, plus sampling the 10k negatives.
    slice_real, slice_fake = train[:640], sequences.repeat(10, 1)
    t_d_batch = timed(
        lambda: train_discriminator(discriminator, seqgan.d_optimizer, slice_real, slice_fake, 1, BATCH, rng),
        device, repeats, per_call=2 * 640 // BATCH,
    )  # fmt: skip
    d_round = 3 * math.ceil(20_000 / BATCH) * t_d_batch.median + ours.median  # ours: sampling 10k
    rows.append(
        Row("SeqGAN discriminator round (10k negatives, 3 epochs; from batch time)", _seconds(d_round), "", "", "", "")
    )

    # A full synthetic evaluation.
    print("evaluation ...", file=sys.stderr)
    evaluator = Evaluator(EvalConfig(n_samples=n_eval), dataset, 0, device)
    t_eval = timed(lambda: evaluator(generator, 0), device, repeats)
    plain_oracle = PlainLM(dataset.oracle.to(device))
    test = dataset.test.to(device)
    t_eval_plain = timed(
        lambda: plain_evaluation(plain_oracle, plain_generator, test, evaluator.oracle_on_test.sum(1), n_eval),
        device,
        repeats,
        warmup=0,
    )
    rows.append(
        Row(
            "full synthetic evaluation (NLL_oracle 10k, NLL_test 10k, MC JSD 10k + 10k)",
            str(t_eval),
            str(t_eval_plain),
            f"{t_eval_plain.median / t_eval.median:.1f}x",
            "<= 15 s",
            _verdict(t_eval.median <= 15),
        )
    )
    rows += text_metric_rows(data_root, sizes)
    rows += projection_rows(
        {"mle": t_mle.median, "cot": t_cot.median, "rewards": t_rewards.median, "d_round": d_round},
        t_eval.median,
    )
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    memory = f"{peak_kib / 1024:,.0f} MiB peak RSS (whole script)"
    if device.type == "cuda":
        memory += f"; {torch.cuda.max_memory_allocated(device) / 2**20:,.0f} MiB peak GPU memory"
    rows.append(Row("peak memory", memory, "", "", "", ""))
    return rows


def text_metric_rows(data_root: Path | None, sizes: Sizes) -> list[Row]:
    """BLEU-2..5 + self-BLEU-2..5 of 10k sentences against 10k references, against nltk extrapolated."""
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    from bench.datasets.tokenizers import tokenize
    from metrics.bleu import References, bleu, self_bleu

    folder = data_root / "coco" if data_root else None
    if folder is None or not (folder / "test_coco.txt").is_file() or not (folder / "image_coco.txt").is_file():
        return [
            Row("BLEU-2..5 + self-BLEU-2..5 (10k vs 10k)", "skipped: COCO files not found", "", "", ">= 1000x", "n/a")
        ]
    print("text metrics ...", file=sys.stderr)

    def read(name: str) -> list[list[str]]:
        lines = (folder / name).read_text(encoding="utf-8").splitlines()
        return [tokenize(line, "treebank") for line in lines if line.strip()]

    references = read("test_coco.txt")[: sizes.n_eval]
    hypotheses = read("image_coco.txt")[: sizes.n_eval]  # real captions stand in for 10k generated sentences
    orders = (2, 3, 4, 5)
    start = time.perf_counter()
    table = References(references)
    ours_bleu = bleu(hypotheses, table, orders)
    t_bleu = time.perf_counter() - start
    start = time.perf_counter()
    self_bleu(hypotheses, orders)
    t_self = time.perf_counter() - start
    n_probe = sizes.nltk_probe  # nltk: a few hypotheses of each kind, extrapolated
    smoothing = SmoothingFunction().method1
    start = time.perf_counter()
    for hypothesis in hypotheses[:n_probe]:
        for n in orders:
            sentence_bleu(references, hypothesis, tuple([1.0 / n] * n), smoothing_function=smoothing)
    t_nltk_bleu = (time.perf_counter() - start) / n_probe * len(hypotheses)
    start = time.perf_counter()
    for i, hypothesis in enumerate(hypotheses[:n_probe]):
        others = hypotheses[:i] + hypotheses[i + 1 :]
        for n in orders:
            sentence_bleu(others, hypothesis, tuple([1.0 / n] * n), smoothing_function=smoothing)
    t_nltk_self = (time.perf_counter() - start) / n_probe * len(hypotheses)
    ours_total, nltk_total = t_bleu + t_self, t_nltk_bleu + t_nltk_self
    ratio = nltk_total / ours_total
    return [
        Row(
            f"BLEU-2..5 + self-BLEU-2..5 ({len(hypotheses):,} vs {len(references):,}; BLEU-5 {ours_bleu[5]:.3f})",
            f"{_seconds(ours_total)} (BLEU {_seconds(t_bleu)}, self {_seconds(t_self)})",
            f"{_seconds(nltk_total)} (nltk, {n_probe} hypotheses timed, extrapolated)",
            f"{ratio:,.0f}x",
            ">= 1000x",
            _verdict(ratio >= 1000),
        )
    ]


def projection_rows(step: dict[str, float], evaluation: float) -> list[Row]:
    """Projected wall time of `experiment=paper_synthetic`, per algorithm and seed, from the timings above."""
    from hydra import compose, initialize_config_dir

    from bench.schema import register_configs

    register_configs()
    with initialize_config_dir(str(REPO_ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=["experiment=paper_synthetic"])
    budgets, every = dict(cfg.steps_by_algorithm), int(cfg.eval.every)
    reference = SeqGANConfig()
    pretrain = reference.pretrain_g_epochs * math.ceil(10_000 // BATCH)
    seqgan_seconds = (
        pretrain * step["mle"]
        + reference.pretrain_d_rounds * step["d_round"]
        + reference.adversarial_rounds
        * (step["rewards"] + step["mle"] + reference.d_rounds_per_adversarial * step["d_round"])
    )
    seqgan_steps = pretrain + reference.pretrain_d_rounds + reference.adversarial_rounds
    plans = {
        "mle": (budgets["mle"], budgets["mle"] * step["mle"]),
        "cot": (budgets["cot"], budgets["cot"] * step["cot"]),
        "seqgan": (seqgan_steps, seqgan_seconds),
    }
    rows = []
    for name, (steps, seconds) in plans.items():
        evaluations = steps // every + 1
        total = seconds + evaluations * evaluation
        rows.append(
            Row(
                f"projected paper_synthetic, {name}, one seed ({steps:,} steps, {evaluations:,} evaluations)",
                f"{total / 3600:.1f} h (training {seconds / 3600:.1f} h)",
                "",
                "",
                "",
                "",
            )  # fmt: skip
        )
    return rows


def render(rows: list[Row], machine: list[str], command: str) -> str:
    lines = [
        f"<!-- Regenerate: {command} -->",
        "# Performance",
        "",
        f"Regenerate with `{command}`. Median of repeats [min–max]; baselines are the plain",
        "implementations in `bench/perf.py`, measured in the same run.",
        "",
        *machine,
        "",
        "| figure | cotbench | plain baseline | ratio | target | verdict |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {r.figure} | {r.ours} | {r.baseline} | {r.ratio} | {r.target} | {r.met} |" for r in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.perf", description=__doc__.splitlines()[0])
    parser.add_argument("device", nargs="?", default="device=cpu", help="device=cpu (default), cuda or auto")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per figure (median reported)")
    parser.add_argument("--quick", action="store_true", help="tiny shapes, to check the script (not a measurement)")
    parser.add_argument(
        "--data-root", type=Path, default=None, help="folder holding coco/ (default: $COTBENCH_DATA or data/)"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="where to write the table (default: results/perf[_<device>].md)"
    )
    args = parser.parse_args(argv)
    name = args.device.removeprefix("device=")
    try:
        device = resolve_device(name)
    except Exception as error:  # a BenchError: one line
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.repeats < 1:
        print(f"error: --repeats={args.repeats}: must be at least 1", file=sys.stderr)
        return 2
    data_root = args.data_root or Path(os.environ.get("COTBENCH_DATA") or REPO_ROOT / "data")
    torch.set_grad_enabled(True)
    rows = measure(device, args.repeats, data_root, QUICK if args.quick else Sizes())
    command = "python -m bench.perf" + ("" if device.type == "cpu" else f" device={name}")
    machine = machine_description(device)
    if args.quick:
        machine.append("- **--quick: reduced shapes; these figures check the script and measure nothing**")
    text = render(rows, machine, command)
    out = args.out or REPO_ROOT / "results" / ("perf.md" if device.type == "cpu" else f"perf_{device.type}.md")
    atomic_write_text(out, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
