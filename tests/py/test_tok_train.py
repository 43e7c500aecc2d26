"""test_tok_train.py: `lilm tok train` against the sentencepiece library.

- The nmt_nfkc_cf charsmap that lilm builds from Unicode data normalises all
  the text in shared/data (BabyLM JSONL and switchboard files, TinyStories;
  about 48 M characters) and every assigned BMP character exactly as
  sentencepiece's built-in nmt_nfkc_cf does.
- BPE and unigram models trained by lilm load in sentencepiece, have the
  requested size and ids, round-trip text, and compress held-out text within
  2% of models sentencepiece trains on the same data with the same options.
- lilm's own encoder (`lilm tok encode`) gives sentencepiece's ids with them.
- JSONL input with --field, and clear errors (exit 2) for impossible vocab
  sizes and invalid UTF-8.
Training runs use the small switchboard files so the suite stays fast.
"""
import json
import os
import subprocess
import tempfile
import unicodedata

import sentencepiece as spm

from harness import case, lilm_bin, run, shared

SWB_TRAIN = shared("data/babylm/train/strict_small_2024/switchboard.train")
SWB_DEV = shared("data/babylm/dev/strict_small_2024/switchboard.dev")
TMP = tempfile.mkdtemp(prefix="lilm-tok-train-")


def lilm_train(out, inputs, *opts, check=True):
    cmd = [lilm_bin(), "tok", "train", "--quiet", "--output", out, *opts, *inputs]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr}")
    return p


COMMON = ["--character-coverage", "1", "--byte-fallback", "--unk-id", "0", "--bos-id", "1",
          "--eos-id", "2", "--pad-id", "3", "--threads", "2"]


def spm_train(prefix, model_type, vocab):
    spm.SentencePieceTrainer.train(
        input=SWB_TRAIN, model_prefix=prefix, model_type=model_type, vocab_size=vocab,
        byte_fallback=True, character_coverage=1.0, normalization_rule_name="nmt_nfkc_cf",
        unk_id=0, bos_id=1, eos_id=2, pad_id=3, num_threads=2, minloglevel=2)
    return prefix + ".model"


def bytes_per_token(model):
    sp = spm.SentencePieceProcessor(model_file=model)
    lines = open(SWB_DEV, encoding="utf-8").read().splitlines()
    n_bytes = sum(len(line.encode("utf-8")) for line in lines)
    n_tok = sum(len(ids) for ids in sp.encode(lines))
    return n_bytes / n_tok


_small = {}


def small_model():
    """A BPE model trained by lilm (its charsmap is what the normaliser tests use)."""
    if "bpe" not in _small:
        out = os.path.join(TMP, "small_bpe.model")
        lilm_train(out, [SWB_TRAIN], "--model-type", "bpe", "--vocab-size", "1000", *COMMON)
        _small["bpe"] = out
    return _small["bpe"]


def shared_text_lines():
    """Every line of every text, JSONL document and dev/train file under shared/data."""
    lines = []
    for root, _, files in os.walk(shared("data")):
        for name in sorted(files):
            path = os.path.join(root, name)
            if name.endswith(".jsonl"):
                with open(path, encoding="utf-8") as f:
                    for line in f:
                        lines += json.loads(line)["text"].split("\n")
            elif name.endswith((".txt", ".train", ".dev")):
                lines += open(path, encoding="utf-8").read().split("\n")
    return lines


@case
def normalizer_matches_sentencepiece_on_shared_text():
    ours = spm.SentencePieceNormalizer(model_file=small_model())
    ref = spm.SentencePieceNormalizer(rule_name="nmt_nfkc_cf")
    lines = shared_text_lines()
    assert len(lines) > 50000 and sum(map(len, lines)) > 40_000_000, (len(lines), sum(map(len, lines)))
    bad = [ln for ln in lines if ours.normalize(ln) != ref.normalize(ln)]
    assert not bad, f"{len(bad)} lines normalise differently, e.g. {bad[0][:200]!r}"


@case
def normalizer_matches_sentencepiece_on_every_bmp_character():
    ours = spm.SentencePieceNormalizer(model_file=small_model())
    ref = spm.SentencePieceNormalizer(rule_name="nmt_nfkc_cf")
    # characters assigned in Python's Unicode version (older than both maps'),
    # alone and after a base letter (to reach the composition rules)
    cps = [c for c in range(1, 0x10000)
           if not (0xD800 <= c <= 0xDFFF) and unicodedata.category(chr(c)) != "Cn"]
    diff = []
    for i in range(0, len(cps), 64):
        chunk = cps[i:i + 64]
        for text in (" ".join(chr(c) for c in chunk), " ".join("a" + chr(c) for c in chunk)):
            if ours.normalize(text) != ref.normalize(text):
                diff += [hex(c) for c in chunk if ours.normalize(chr(c)) != ref.normalize(chr(c))] or [text[:40]]
    assert not diff, f"{len(diff)} characters differ, e.g. {diff[:10]}"


def check_model(path, model_type, vocab):
    sp = spm.SentencePieceProcessor(model_file=path)
    assert sp.get_piece_size() == vocab, sp.get_piece_size()
    assert sp.id_to_piece(0) == "<unk>" and sp.unk_id() == 0
    assert sp.bos_id() == 1 and sp.eos_id() == 2 and sp.pad_id() == 3
    assert sp.id_to_piece(4) == "<0x00>" and sp.id_to_piece(259) == "<0xFF>"
    text = "Hello there, how are you doing today? I'm fine — ça va. 123"
    norm = spm.SentencePieceNormalizer(model_file=path).normalize(text).replace("\u2581", " ").strip()
    assert sp.decode(sp.encode(text)) == norm, (sp.decode(sp.encode(text)), norm)


def compare_with_sentencepiece(model_type):
    out = os.path.join(TMP, f"{model_type}.model")
    lilm_train(out, [SWB_TRAIN], "--model-type", model_type, "--vocab-size", "2000", *COMMON)
    check_model(out, model_type, 2000)
    ref_model = spm_train(os.path.join(TMP, f"ref_{model_type}"), model_type, 2000)
    ours, ref = bytes_per_token(out), bytes_per_token(ref_model)
    assert ours >= 0.98 * ref, f"lilm {model_type} {ours:.4f} bytes/token vs sentencepiece {ref:.4f}"


@case
def bpe_model_loads_and_compresses_like_sentencepiece():
    compare_with_sentencepiece("bpe")


@case
def unigram_model_loads_and_compresses_like_sentencepiece():
    compare_with_sentencepiece("unigram")


@case
def lilm_encoder_agrees_with_sentencepiece_on_trained_models():
    lines = open(SWB_DEV, encoding="utf-8").read().splitlines()[:3000]
    for name, typ in (("enc_bpe.model", "bpe"), ("enc_uni.model", "unigram")):
        out = os.path.join(TMP, name)
        lilm_train(out, [SWB_TRAIN], "--model-type", typ, "--vocab-size", "1500", *COMMON)
        sp = spm.SentencePieceProcessor(model_file=out)
        want = [" ".join(map(str, ids)) for ids in sp.encode(lines)]
        p = subprocess.run([lilm_bin(), "tok", "encode", "--model", out], input="\n".join(lines) + "\n",
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        got = p.stdout.splitlines()
        assert got == want, f"{typ}: lilm tok encode differs from sentencepiece on " \
            f"{sum(a != b for a, b in zip(got, want))} of {len(want)} lines"


@case
def jsonl_input_with_field():
    src = shared("data/tinystories/train/tinystoriesv2_gpt4_train_head.jsonl")
    out = os.path.join(TMP, "ts.model")
    lilm_train(out, [src], "--format", "jsonl", "--field", "text", "--model-type", "bpe",
               "--vocab-size", "600", "--input-sentence-size", "2000", "--seed", "7", *COMMON)
    sp = spm.SentencePieceProcessor(model_file=out)
    assert sp.get_piece_size() == 600
    assert "\u2581the" in [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    p = lilm_train(out, [src], "--format", "jsonl", "--field", "story", "--vocab-size", "600", check=False)
    assert p.returncode == 2 and '"story"' in p.stderr, p.stderr


@case
def bad_input_is_a_clear_error():
    bad = os.path.join(TMP, "bad.txt")
    with open(bad, "wb") as f:
        f.write(b"fine line\nbroken \xc3\x28 line\n")
    out = os.path.join(TMP, "bad.model")
    p = lilm_train(out, [bad], "--vocab-size", "300", check=False)
    assert p.returncode == 2 and "bad.txt:2" in p.stderr and "UTF-8" in p.stderr, p.stderr
    p = lilm_train(out, [SWB_TRAIN], "--vocab-size", "270", "--byte-fallback", check=False)
    assert p.returncode == 2 and "too small" in p.stderr, p.stderr
    p = lilm_train(out, [SWB_TRAIN], "--model-type", "bpe", "--vocab-size", "900000", check=False)
    assert p.returncode == 2 and "larger than this text allows" in p.stderr, p.stderr
    p = lilm_train(out, [SWB_TRAIN], "--vocab-size", "abc", check=False)
    assert p.returncode == 2 and "vocab-size" in p.stderr, p.stderr
    assert not os.path.exists(out)


run()
