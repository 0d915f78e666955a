"""The EMNLP News experiment files: quick_emnlp runs MLE, SeqGAN's quick schedule and CoT x 3 seeds with the
LM figures on; paper_emnlp names the full training file and its substitute."""

from __future__ import annotations

from bench.config.schema import CONF_DIR
from tests.conftest import compose_config


def test_quick_emnlp_is_three_algorithms_by_three_seeds_with_lm_scores() -> None:
    config = compose_config("experiment=quick_emnlp", "algorithm=cot")
    assert config.dataset.name == "emnlp_news" and config.dataset.figures.lm_scores is True
    assert dict(config.steps_by_algorithm) == {"mle": 800, "cot": 1000}
    assert config.eval.n_samples == 2000 and config.eval.every == 500
    text = (CONF_DIR / "experiment" / "quick_emnlp.yaml").read_text()
    assert "      seed: 0,1,2\n      algorithm: cot,seqgan_quick,mle\n" in text
    assert "#   python -m bench experiment=quick_emnlp && python -m bench.report outputs/sweeps/quick_emnlp" in text


def test_paper_emnlp_expects_the_full_training_file_and_names_its_substitute() -> None:
    config = compose_config("experiment=paper_emnlp", "algorithm=mle")
    assert config.dataset.train_file == "emnlp_news.txt" and config.dataset.train_substitute == "gfs_news_valid.txt"
    assert config.dataset.test_file == "test_emnlp.txt"
    text = (CONF_DIR / "experiment" / "paper_emnlp.yaml").read_text()
    assert "538653e5f946b6f76e2b729c5aaa7507152354a3" in text and "fetch emnlp_news_full" in text
