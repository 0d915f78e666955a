"""Unit times on a text experiment's own data, for the projection of `paper_coco` and `paper_emnlp`.

Text steps cost more than synthetic ones (COCO sentences are up to 38 positions, EMNLP News up to
51, with vocabularies of about 4,700 and 5,700 words) and a text evaluation computes BLEU and
self-BLEU instead of oracle figures, so the synthetic unit times cannot stand in for them. Each
unit is timed here as the suite runs it (no plain baseline: the synthetic rows compare those),
on the experiment's own dataset, model and evaluation size. Needs the dataset's files under the
data root; without them the experiment's rows say so.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import torch
from omegaconf import OmegaConf

from algorithms.base import TrainingContext
from algorithms.cot import CoT, CoTConfig
from algorithms.mle import MLE, MLEConfig
from algorithms.seqgan import SeqGAN, SeqGANConfig
from algorithms.seqgan.discriminator import train_discriminator
from bench.config.build import build
from bench.config.schema import EvalConfig
from bench.errors import BenchError
from bench.evaluation.evaluator import Evaluator
from bench.perf.baselines import BATCH
from bench.perf.figures import Sizes
from bench.perf.projection import experiment_config, projection_rows
from bench.perf.timing import Row, seconds, timed
from models import Generator, GeneratorConfig

TEXT_EXPERIMENTS = ("paper_coco", "paper_emnlp")


def text_projection(experiment: str, data_root: Path, device: torch.device, repeats: int, sizes: Sizes) -> list[Row]:
    """The unit-time row and the projected hours per seed of one text experiment (or one row saying why not).

    `sizes.n_eval` caps the sequences per timed evaluation (the experiment's own `eval.n_samples`
    unless the script runs with reduced shapes, which the projection then says) and `sizes.rollouts`
    sets SeqGAN's rollouts. Models are untrained, so samples run to full length (rarely EOS): an
    upper bound on the cost of a trained model's shorter sentences.
    """
    cfg = experiment_config(experiment)
    node = OmegaConf.merge(cfg.dataset, {"data_dir": str(data_root / cfg.dataset.name)})
    try:
        dataset = build(node, "dataset")
    except BenchError as error:
        return [Row(f"{experiment}: unit times on {cfg.dataset.name}", f"skipped: {error}", met="n/a")]
    print(f"{experiment} ({dataset.name}) ...", file=sys.stderr)
    torch.manual_seed(0)
    model = GeneratorConfig(int(cfg.model.emb_dim), int(cfg.model.hidden_dim), float(cfg.model.init_std))
    rng = torch.Generator(device=device).manual_seed(0)
    train = dataset.train.to(device)

    def context() -> TrainingContext:
        return TrainingContext(Generator(dataset.space, model).to(device), train, rng, device)

    step: dict[str, float] = {}
    mle = MLE(MLEConfig(), context())
    step["mle"] = timed(mle.step, device, repeats, warmup=2).median
    cot = CoT(CoTConfig(), context())
    step["cot"] = timed(cot.step, device, repeats, warmup=1).median
    reference = SeqGANConfig()
    seqgan = SeqGAN(SeqGANConfig(n_rollouts=sizes.rollouts), context())
    with torch.no_grad():
        sequences = seqgan.generator.sample(BATCH, rng).tokens
        step["rewards"] = timed(lambda: seqgan.rewards(sequences), device, max(1, repeats // 2), warmup=0).median
        negatives, drawn = reference.d_negatives, min(reference.d_negatives, sizes.n_eval)
        sampling = timed(lambda: seqgan.generator.sample(drawn, rng), device, 1, warmup=0).median
        step["sample"] = sampling * negatives / drawn  # a round's negatives
    real, fake = train[:640], sequences.repeat(10, 1)[:640]
    batch = timed(
        lambda: train_discriminator(seqgan.discriminator, seqgan.d_optimizer, real, fake, 1, BATCH, rng),
        device,
        repeats,
        per_call=2 * 640 // BATCH,
    )
    step["d_round"] = reference.d_epochs * math.ceil(2 * negatives / BATCH) * batch.median + step["sample"]
    n_samples = min(int(cfg.eval.n_samples), sizes.n_eval)
    figures = build(cfg.dataset.figures, "dataset.figures", dataset, device)
    evaluator = Evaluator(EvalConfig(n_samples=n_samples), dataset, 0, device, figures)
    generator = Generator(dataset.space, model).to(device)
    with torch.no_grad():
        evaluation = timed(lambda: evaluator(generator, 0), device, 1, warmup=0).median
    units = (
        f"MLE step {seconds(step['mle'])}, CoT iteration {seconds(step['cot'])}, SeqGAN rewards "
        f"{seconds(step['rewards'])}, D round {seconds(step['d_round'])}, evaluation of {n_samples:,} "
        f"{seconds(evaluation)}"
    )
    head = Row(
        f"{experiment}: unit times on {dataset.name} (T = {dataset.space.seq_len}, V = {dataset.space.vocab_size:,})",
        units,
    )
    return [head, *projection_rows(step, evaluation, n_samples, experiment, n_train=len(dataset.train))]
