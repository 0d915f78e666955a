"""Text benchmarks without silent traps: special tokens never generated, NLL over what can be learned,
provenance and warnings in every dataset, published files checked, sacreBLEU on the raw lines,
EMNLP's two spellings normalised alike, evaluation stoppable between chunks."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import sacrebleu
import torch
from torch import nn

from algorithms.cot import generator_loss
from algorithms.mle import teacher_forcing_backward
from bench.config.schema import EvalConfig
from bench.datasets.text import TextConfig, build_text
from bench.datasets.text_files import TextFileError
from bench.datasets.tokenizers import detokenize, normalize, plain_text, tokenize
from bench.errors import BenchError
from bench.evaluation.text import TextScorer
from bench.training.loop import LoopState, StopRequested, train
from metrics.bleu import References, bleu
from models import Generator, GeneratorConfig, SequenceSpace
from tests.conftest import evaluator_for, shared_file
from tests.test_text_data import TEST, TRAIN, write_corpus


def _text_generator(tmp_path: Path, seed: int = 0, **config: object) -> tuple[Generator, object]:
    dataset = build_text(TextConfig(**{**vars(write_corpus(tmp_path)), **config}))
    torch.manual_seed(seed)
    return Generator(dataset.space, GeneratorConfig(emb_dim=8, hidden_dim=8)), dataset


def test_ten_thousand_samples_never_contain_pad_bos_or_unk(tmp_path: Path) -> None:
    generator, dataset = _text_generator(tmp_path)
    vocabulary = dataset.vocabulary
    blocked = [vocabulary.pad_id, vocabulary.bos_id, vocabulary.unk_id]
    assert dataset.space.blocked_tokens == tuple(blocked)
    with torch.no_grad():  # unmasked, these three would now take almost all the mass
        generator.out.bias[blocked] = 20.0
    samples = generator.sample(10_000, torch.Generator().manual_seed(1))
    before_end = dataset.space.mask(samples.tokens) | (samples.tokens == vocabulary.eos_id)
    words = samples.tokens[before_end]
    assert words.numel() > 10_000 and not torch.isin(words, torch.tensor(blocked)).any()
    assert all("<unk>" not in line and "<bos>" not in line for line in dataset.decode(samples.tokens))
    # the same probabilities for training, scoring and sampling: softmax over the generable ids only
    log_probs = generator(samples.tokens[:50]).log_softmax(-1)
    assert log_probs[..., blocked].max() < -1e8
    assert log_probs.exp().sum(-1).sub(1).abs().max() < 1e-5
    scored = generator.score(samples.tokens[:50])
    assert torch.allclose(scored, samples.token_log_probs[:50], atol=1e-5)


def test_masking_leaves_the_nll_of_real_text_unchanged_when_specials_carried_no_mass(tmp_path: Path) -> None:
    generator, dataset = _text_generator(tmp_path)
    plain_space = SequenceSpace(**{**vars(dataset.space), "blocked_tokens": None})
    plain = Generator(plain_space, GeneratorConfig(emb_dim=8, hidden_dim=8))
    assert type(plain.out) is nn.Linear and type(generator.out) is not nn.Linear  # synthetic: the plain layer
    vocabulary = dataset.vocabulary
    with torch.no_grad():
        generator.out.bias[[vocabulary.pad_id, vocabulary.bos_id, vocabulary.unk_id]] = -40.0  # ~e-17 of the mass
    plain.load_state_dict(generator.state_dict())  # same keys: the mask is not a parameter
    real = dataset.train  # no training sentence has PAD, BOS or UNK as a scored target
    mask = dataset.space.mask(real)
    assert torch.equal(mask, plain_space.mask(real))
    masked_nll = -(generator.score(real) * mask).sum() / mask.sum()
    plain_nll = -(plain.score(real) * mask).sum() / mask.sum()
    assert masked_nll.item() == pytest.approx(plain_nll.item(), rel=1e-6)


def test_training_losses_stay_finite_with_unk_targets_and_masked_logits(tmp_path: Path) -> None:
    generator, dataset = _text_generator(tmp_path, max_vocab=8)  # most training words read as UNK
    assert (dataset.train == dataset.vocabulary.unk_id).any()
    assert not dataset.space.mask(dataset.train)[dataset.train == dataset.vocabulary.unk_id].any()
    loss = teacher_forcing_backward(generator, dataset.train, chunk=16)
    gradients = [p.grad for p in generator.parameters()]
    assert torch.isfinite(torch.as_tensor(loss)).all() and all(torch.isfinite(g).all() for g in gradients)
    mediator = Generator(dataset.space, GeneratorConfig(emb_dim=8, hidden_dim=8))
    kl = generator_loss(generator(dataset.train), mediator(dataset.train), dataset.space.mask(dataset.train))
    assert torch.isfinite(kl) and kl.item() > 0


def test_provenance_records_files_sizes_shares_and_the_sacrebleu_signature(tmp_path: Path) -> None:
    dataset = build_text(TextConfig(**{**vars(write_corpus(tmp_path)), "max_len": 8}))
    data = dataset.provenance
    assert data["vocab_size"] == len(dataset.vocabulary) and data["max_len"] == 8
    assert (
        data["sacrebleu_signature"] == f"nrefs:3|case:mixed|eff:no|tok:13a|smooth:exp|version:{sacrebleu.__version__}"
    )
    train, test = data["train"], data["test"]
    assert train["path"] == str(tmp_path / "train.txt")
    assert train["sha256"] == hashlib.sha256((tmp_path / "train.txt").read_bytes()).hexdigest()
    assert (train["lines"], train["sentences"], test["lines"], test["sentences"]) == (9, 8, 3, 3)
    assert (train["kept"], train["dropped"]) == (3, 5) and (test["kept"], test["dropped"]) == (2, 1)
    assert test["unk_share"] == 1 / 14 and train["unk_share"] == 0.0  # kept: "two <unk> sleeping on a bed" + EOS
    assert dataset.warnings and all(len(w.splitlines()) == 1 for w in dataset.warnings)


def test_a_published_file_with_another_content_is_refused_naming_it(tmp_path: Path) -> None:
    source = shared_file("coco", "test_coco.txt")
    (tmp_path / "image_coco.txt").write_bytes(shared_file("coco", "image_coco.txt").read_bytes())
    (tmp_path / "test_coco.txt").write_text("".join(source.read_text().splitlines(keepends=True)[:90]))
    with pytest.raises(TextFileError) as error:
        build_text(TextConfig(data_dir=str(tmp_path)))
    message = str(error.value)
    assert len(message.splitlines()) == 1 and message.startswith(f"dataset.test_file: {tmp_path / 'test_coco.txt'}")
    assert "not that of the published test_coco.txt (72e25c9fb4d2" in message and "fetch coco" in message


def _warnings_of(tmp_path: Path, train: list[str] = TRAIN, test: list[str] = TEST, **config: object) -> list[str]:
    base = write_corpus(tmp_path, train, test)
    quiet = {"warn_min_sentences": 0, "warn_unk_share": 0.2}  # the tiny test split: 16 % unknown words
    return build_text(TextConfig(**{**vars(base), **quiet, **config})).warnings


def test_each_trap_is_a_one_line_warning_by_its_threshold(tmp_path: Path) -> None:
    assert _warnings_of(tmp_path) == []  # the tiny corpus is clean once its size is allowed
    few = _warnings_of(tmp_path, warn_min_sentences=4)
    assert len(few) == 1 and "test.txt has 3 sentences, fewer than dataset.warn_min_sentences=4" in few[0]
    run_on = " ".join(TEST * 20)  # one reference line far longer than the others
    long = _warnings_of(tmp_path, test=[*TEST, run_on])
    assert len(long) == 2 and "dataset.test_file: 1 sentence(s) longer than dataset.warn_long_factor=5" in long[0]
    assert "the longest at line 4 (" in long[0] and "drops 1 of 4 test sentences" in long[1]  # max_len from train
    dropped = _warnings_of(tmp_path, max_len=7)
    assert any("dataset.max_len=7 drops 7 of 8 train sentences (87.5%" in w for w in dropped)
    unknown = _warnings_of(tmp_path, max_vocab=5, warn_unk_share=0.1)
    assert any(w.startswith("dataset.train_file: ") and "(more than dataset.warn_unk_share=0.1)" in w for w in unknown)
    assert all(len(w.splitlines()) == 1 for w in few + long + dropped + unknown)


def test_a_byte_order_mark_is_removed_and_reported(tmp_path: Path) -> None:
    config = write_corpus(tmp_path)
    (tmp_path / "train.txt").write_bytes(b"\xef\xbb\xbf" + (tmp_path / "train.txt").read_bytes())
    dataset = build_text(TextConfig(**{**vars(config), "warn_min_sentences": 0, "warn_unk_share": 1.0}))
    assert dataset.decode(dataset.train[:1]) == ["a man riding a bike at night ."]
    assert dataset.warnings == [
        f"dataset.train_file: {tmp_path / 'train.txt'} starts with a UTF-8 byte-order mark (removed)"
    ]


def test_a_run_on_training_line_is_an_error_before_any_work(tmp_path: Path) -> None:
    config = write_corpus(tmp_path, [*TRAIN, "word " * 3000])
    with pytest.raises(BenchError) as error:
        build_text(config)
    assert str(error.value).startswith(
        f"dataset.max_len: the longest training sentence (line 10 of {tmp_path / 'train.txt'}) has 3,000 tokens,"
        " so max_len would be 3,001, more than dataset.max_len_limit=128"
    )
    with pytest.raises(ValueError, match=r"dataset.max_len=3001: more than dataset.max_len_limit=128"):
        TextConfig(max_len=3001)
    assert build_text(TextConfig(**{**vars(config), "max_len": 20})).provenance["train"]["dropped"] == 1


def test_vocabulary_from_train_and_test_is_the_peers_convention_named_for_it(tmp_path: Path) -> None:
    peers = build_text(TextConfig(**{**vars(write_corpus(tmp_path)), "vocabulary_from": "train_and_test"}))
    assert {"zebra", "giraffe"} <= set(peers.vocabulary.words) and peers.provenance["test"]["unk_share"] == 0.0
    with pytest.raises(ValueError, match="dataset.vocabulary_from='test': must be one of train, train_and_test"):
        TextConfig(vocabulary_from="test")


def test_sacrebleu_reads_the_raw_test_lines_and_detokenised_samples(tmp_path: Path) -> None:
    lines = ['" We \' re working through a legacy period ," he says .', "Rock went to a movie theater ."]
    words = [tokenize(line, "treebank") for line in lines]
    assert detokenize(words[0], "treebank") != lines[0]  # the round trip would have altered the references
    figures = TextScorer(build_text(write_corpus(tmp_path)).vocabulary, words, reference_lines=lines)
    hypotheses = ["We ' re working through a period , he says .", "Rock went to a theater ."]
    literal = sacrebleu.corpus_bleu(hypotheses, [[line] * len(hypotheses) for line in lines]).score
    assert figures.sacre_references.corpus_bleu(hypotheses) == pytest.approx(literal, abs=1e-9)
    # a model that reproduced the test sentences' tokens gets exactly the score of the raw lines
    copies = [plain_text(tokenize(normalize(line, "spaced"), "treebank")) for line in lines]
    assert sacrebleu.corpus_bleu(copies, [lines]).score == pytest.approx(100.0)
    assert sacrebleu.corpus_bleu([detokenize(w, "treebank") for w in words], [lines]).score < 90


def test_both_emnlp_spellings_score_the_same_once_normalised() -> None:
    attached = shared_file("emnlp_news", "test_emnlp.txt").read_text().splitlines()[:400]
    spaced = shared_file("emnlp_news", "gfs_news_test.txt").read_text().splitlines()[:400]
    hypotheses = shared_file("emnlp_news", "gfs_news_valid.txt").read_text().splitlines()[:200]

    def bleu5(references: list[str], quote_spacing: str) -> float:
        tokens = [tokenize(normalize(line, quote_spacing), "treebank") for line in references]
        hyps = [tokenize(normalize(line, quote_spacing), "treebank") for line in hypotheses]
        return bleu(hyps, References(tokens, 5), (5,))[5]

    assert bleu5(attached, "asis") != bleu5(spaced, "asis")  # the trap: same sentences, other tokens
    assert [normalize(line, "spaced") for line in attached] == [normalize(line, "spaced") for line in spaced]
    assert bleu5(attached, "spaced") == bleu5(spaced, "spaced")


def test_an_evaluation_checks_between_chunks_and_a_stop_is_redone_on_resume(tmp_path: Path) -> None:
    generator, dataset = _text_generator(tmp_path)
    evaluator = evaluator_for(dataset, EvalConfig(n_samples=2000))
    calls = []
    evaluator(generator, 0, lambda: calls.append(1))
    assert len(calls) >= 2 + 1 + 2  # sampling chunks, scoring chunks, every 1,000 sentences of the text figures

    class Still:  # an algorithm with nothing to train: the loop's evaluations alone
        generator, phase, finished, schedule = _text_generator(tmp_path)[0], "train", False, None

        def step(self) -> dict[str, float]:
            return {}

        def evaluation_figures(self, context: object) -> dict[str, float]:
            return {}

        def networks(self) -> dict[str, nn.Module]:
            return {"generator": self.generator}

    polls, rows, interrupted = [], [], LoopState()
    stop_in_evaluation = lambda: "SIGTERM" if len(polls.append(1) or polls) == 2 else None  # noqa: E731
    with pytest.raises(StopRequested, match="interrupted by SIGTERM at step 0"):
        train(Still(), evaluator, 2, 1, lambda row, *_: rows.append(row), False, interrupted, stop_in_evaluation)
    assert rows == [] and interrupted.pending_phase == "train"  # the checkpoint would say: evaluate step 0 again
    saved = LoopState.from_state_dict(interrupted.state_dict())
    state = train(Still(), evaluator, 2, 1, lambda row, *_: rows.append(row), False, saved)
    assert [row["step"] for row in rows] == [0, 1, 2] and state.pending_phase is None
