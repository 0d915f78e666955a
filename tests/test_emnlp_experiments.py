"""The EMNLP News experiment files: quick_emnlp runs MLE, SeqGAN's quick schedule and CoT x 3 seeds with the
LM figures on; paper_emnlp names the full training file and its substitute."""

from __future__ import annotations

from omegaconf import OmegaConf

from bench.config.schema import CONF_DIR
from bench.datasets.fetch import BUNDLES
from bench.report.published import EMNLP_TRAIN_GIT_BLOB
from tests.conftest import compose_config


def test_quick_emnlp_is_three_algorithms_by_three_seeds_with_lm_scores() -> None:
    config = compose_config("experiment=quick_emnlp", "algorithm=cot")
    assert config.dataset.name == "emnlp_news" and config.dataset.figures.lm_scores is True
    assert dict(config.steps_by_algorithm) == {"mle": 800, "cot": 1000}
    assert config.eval.n_samples == 2000 and config.eval.every == 500
    sweep = OmegaConf.load(CONF_DIR / "experiment" / "quick_emnlp.yaml").hydra.sweeper.params
    assert str(sweep.seed).split(",") == ["0", "1", "2"]
    assert set(str(sweep.algorithm).split(",")) == {"cot", "seqgan_quick", "mle"}


def test_paper_emnlp_expects_the_full_training_file_and_names_its_substitute() -> None:
    config = compose_config("experiment=paper_emnlp", "algorithm=mle")
    assert config.dataset.train_file == "emnlp_news.txt" and config.dataset.train_substitute == "gfs_news_valid.txt"
    assert config.dataset.test_file == "test_emnlp.txt"
    # `python -m bench.data fetch emnlp_news_full` brings that file, verified by the git blob the published
    # rows are keyed by, into the folder the dataset reads
    [full] = BUNDLES["emnlp_news_full"].files
    assert full.name == config.dataset.train_file and full.git_blob == EMNLP_TRAIN_GIT_BLOB
    assert BUNDLES["emnlp_news_full"].folder == config.dataset.name
