"""ALBERT SentencePiece tokenizer with character offsets into the original text.

Reproduces what transformers' ``AlbertTokenizerFast`` (tokenizers 0.22) does, ids *and* offsets:

1. special tokens written literally in the text (``[CLS]``, ``[SEP]``, ``[MASK]``, ``<pad>``,
   ``<unk>``) are split out first, on the raw text;
2. normaliser: ````` `` ````` and ``''`` -> ``"``; NFKD; drop every combining mark (unless
   ``keep_accents``); lower-case (if ``do_lower_case``); the model's precompiled ``nmt_nfkc``
   character map (per grapheme cluster, as tokenizers does); runs of 2+ spaces -> one space;
3. Metaspace: spaces -> ``▁``, a ``▁`` prepended, split before every ``▁``;
4. each word segmented by SentencePiece itself (the ``sentencepiece`` library's unigram model,
   loaded from the same ``spiece.model`` with its normaliser switched off, because steps 1-3
   have normalised the text already); runs of unknown characters become one ``<unk>``.

Every normalised character carries the (start, end) character span of the original character
it came from, following tokenizers' alignment rules, so a token's offsets are the span from its
first character's start to its last character's end. SentencePiece's own normaliser cannot be
used for steps 2-3: it neither does ALBERT's lower-casing and accent stripping nor maps back to
the original text the way tokenizers does (per grapheme cluster). No mxnet here.

BERT, DistilBERT and RoBERTa checkpoints carry a Hugging Face ``tokenizer.json`` (WordPiece or
byte-level BPE): :class:`HfTokenizer` runs it with the ``tokenizers`` library itself, which is
what their fast tokenizers run, so ids and offsets agree by construction. :func:`load_tokenizer`
picks the tokenizer a model directory's family needs.
"""

from __future__ import annotations

import struct
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import regex
import sentencepiece

from app.errors import ModelLoadError
from app.qa.families import SENTENCEPIECE, TOKENIZERS

if TYPE_CHECKING:
    from app.qa.modeldir import QaConfig

Span = tuple[int, int]
#: A normalised character and the original-text span it stands for.
Aligned = list[tuple[str, Span]]

_META = "\u2581"
# Rust's char::is_whitespace (Unicode White_Space), used by the lstrip of [MASK].
_WS = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_GRAPHEME = regex.compile(r"\X")
_SPACE_RUN = regex.compile(" {2,}")


@dataclass(frozen=True)
class Encoding:
    """Token ids (N,), their (start, end) character spans (N,) in the original text, and the
    index of the word each token belongs to (N,): a Metaspace piece for ALBERT, a pre-tokenizer
    word (tokenizers' ``word_ids``) for a ``tokenizer.json``."""

    ids: list[int]
    offsets: list[Span]
    words: list[int]


def _transform(chars: Aligned, changes: list[tuple[str, int]], skip: int = 0) -> Aligned:
    """tokenizers' ``NormalizedString::transform``: rebuild ``chars`` from (char, change) pairs.

    change 0 replaces the next old character (keeping its span), +1 inserts a character that
    shares the span of the previous old character, -k replaces one and drops k more.
    ``skip`` old characters are dropped before the first pair.
    """
    out: Aligned = []
    pos = skip
    for c, change in changes:
        if change > 0:
            span = chars[pos - 1][1] if pos >= 1 else (0, 0)
        else:
            span = chars[pos][1]
            pos += 1 - change
        out.append((c, span))
    return out


def _replace_literal(chars: Aligned, old: str, new: str) -> Aligned:
    """Replace each non-overlapping ``old`` with ``new``; new chars take the last old char's span."""
    text = "".join(c for c, _ in chars)
    if old not in text:
        return chars
    out: Aligned = []
    last = 0
    start = text.find(old)
    while start != -1:
        out.extend(chars[last:start])
        end = start + len(old)
        out.extend((c, chars[end - 1][1]) for c in new)
        last = end
        start = text.find(old, end)
    out.extend(chars[last:])
    return out


def _nfkd(chars: Aligned) -> Aligned:
    """NFKD with canonical reordering; decomposed extras are insertions (change +1)."""
    if all(ord(c) < 0x80 for c, _ in chars):
        return chars
    pairs: list[tuple[str, int]] = []
    for c, _ in chars:
        decomposed = c if ord(c) in _NO_NFKD else unicodedata.normalize("NFKD", c)
        pairs.append((decomposed[0], 0))
        pairs.extend((d, 1) for d in decomposed[1:])
    # Canonical ordering: stable-sort each run of non-starters by combining class.
    i = 0
    while i < len(pairs):
        if unicodedata.combining(pairs[i][0]) == 0:
            i += 1
            continue
        j = i
        while j < len(pairs) and unicodedata.combining(pairs[j][0]) != 0:
            j += 1
        pairs[i:j] = sorted(pairs[i:j], key=lambda p: unicodedata.combining(p[0]))
        i = j
    return _transform(chars, pairs)


def _is_mark(c: str) -> bool:
    cp = ord(c)
    if cp < 0x300:
        return False
    if unicodedata.category(c).startswith("M"):
        return cp not in _KEEP_MARKS
    return cp in _EXTRA_MARKS


def _strip_marks(chars: Aligned) -> Aligned:
    """Drop combining marks (Mn, Mc, Me) the way ``NormalizedString::filter`` does."""
    keep = [not _is_mark(c) for c, _ in chars]
    if all(keep):
        return chars
    pairs: list[tuple[str, int]] = []
    removed = 0
    leading = 0
    last: str | None = None
    for (c, _), kept in zip(chars, keep, strict=True):
        if kept:
            if last is None:
                leading = removed
            else:
                pairs.append((last, -removed))
            last = c
            removed = 0
        else:
            removed += 1
    if last is not None:
        pairs.append((last, -removed))
    return _transform(chars, pairs, skip=leading)


def _lowercase(chars: Aligned) -> Aligned:
    out: Aligned = []
    for c, span in chars:
        out.extend((lc, span) for lc in _LOWER_EXTRA.get(c) or c.lower())
    return out


class _CharsMap:
    """SentencePiece's precompiled normalisation map: a darts-clone double array + a string pool."""

    def __init__(self, blob: bytes) -> None:
        (trie_bytes,) = struct.unpack_from("<I", blob, 0)
        self._units = struct.unpack_from(f"<{trie_bytes // 4}I", blob, 4)
        self._pool = blob[4 + trie_bytes :]
        # Text repeats the same few hundred characters: remember each answer.
        self.lookup = lru_cache(maxsize=65536)(self._lookup)

    def _lookup(self, chunk: str) -> str | None:
        """Replacement for the *shortest* mapped prefix of ``chunk`` (None if no prefix is mapped)."""
        units = self._units
        node = units[0] >> 10 << ((units[0] & (1 << 9)) >> 6)
        for byte in chunk.encode("utf-8"):
            if byte == 0:
                return None
            node ^= byte
            unit = units[node]
            if unit & ((1 << 31) | 0xFF) != byte:
                return None
            node ^= unit >> 10 << ((unit & (1 << 9)) >> 6)
            if (unit >> 8) & 1:
                value = units[node] & ((1 << 31) - 1)
                end = self._pool.index(b"\0", value)
                return self._pool[value:end].decode("utf-8")
        return None


def _replace_group(pairs: list[tuple[str, int]], old_count: int, new: str) -> None:
    """tokenizers' Precompiled ``replace`` helper: append ``new`` standing for ``old_count`` chars."""
    pairs.extend((c, 0) for c in new)
    diff = len(new) - old_count
    if diff > 0:
        for k in range(len(pairs) - diff, len(pairs)):
            pairs[k] = (pairs[k][0], 1)
    elif diff < 0 and pairs:
        c, change = pairs[-1]
        pairs[-1] = (c, change + diff)


def _precompiled(chars: Aligned, charsmap: _CharsMap) -> Aligned:
    text = "".join(c for c, _ in chars)
    pairs: list[tuple[str, int]] = []
    modified = False
    for grapheme in _GRAPHEME.findall(text):
        if len(grapheme.encode("utf-8")) < 6:
            mapped = charsmap.lookup(grapheme)
            if mapped is not None:
                modified = True
                _replace_group(pairs, len(grapheme), mapped)
                continue
        for c in grapheme:
            mapped = charsmap.lookup(c)
            if mapped is None:
                pairs.append((c, 0))
            else:
                modified = True
                _replace_group(pairs, 1, mapped)
    return _transform(chars, pairs) if modified else chars


def _collapse_spaces(chars: Aligned) -> Aligned:
    text = "".join(c for c, _ in chars)
    out: Aligned = []
    last = 0
    for match in _SPACE_RUN.finditer(text):
        out.extend(chars[last : match.start()])
        out.append((" ", chars[match.end() - 1][1]))
        last = match.end()
    out.extend(chars[last:])
    return out


def _varint(data: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        byte = data[i]
        i += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, i


def _fields(data: bytes) -> list[tuple[int, bytes | int, bytes]]:
    """Top-level protobuf fields: (number, value, the field's raw bytes)."""
    out: list[tuple[int, bytes | int, bytes]] = []
    i = 0
    while i < len(data):
        start = i
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        value: bytes | int
        if wire == 0:
            value, i = _varint(data, i)
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            value, i = data[i : i + width], i + width
        elif wire == 2:
            size, i = _varint(data, i)
            value, i = data[i : i + size], i + size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if i > len(data):
            raise ValueError("truncated protobuf message")
        out.append((number, value, data[start:i]))
    return out


def _read_model_proto(blob: bytes) -> tuple[list[tuple[str, float]], bytes]:
    """Pieces with scores and the precompiled charsmap from a serialized ``ModelProto``."""
    pieces: list[tuple[str, float]] = []
    charsmap = b""
    for number, value, _ in _fields(blob):
        if number == 1 and isinstance(value, bytes):
            piece, score = "", 0.0
            for sub_number, sub, _ in _fields(value):
                if sub_number == 1 and isinstance(sub, bytes):
                    piece = sub.decode("utf-8")
                elif sub_number == 2 and isinstance(sub, bytes):
                    (score,) = struct.unpack("<f", sub)
            pieces.append((piece, score))
        elif number == 3 and isinstance(value, bytes):
            for sub_number, sub, _ in _fields(value):
                if sub_number == 2 and isinstance(sub, bytes):
                    charsmap = sub
    return pieces, charsmap


def _segmenter(blob: bytes) -> sentencepiece.SentencePieceProcessor:
    """SentencePiece over the model's pieces, with an identity normaliser, no dummy prefix and no
    whitespace escaping: it segments an already-normalised ``▁word`` exactly as given.

    The ``ModelProto`` keeps its pieces (1) and trainer spec (2); the normaliser spec (3) is
    replaced, and the self-test samples (4), which assume the original normaliser, are dropped.
    """

    def field(number: int, payload: bytes) -> bytes:
        key, size = number << 3 | 2, len(payload)
        head = bytearray()
        for value in (key, size):
            while value > 0x7F:
                head.append(value & 0x7F | 0x80)
                value >>= 7
            head.append(value)
        return bytes(head) + payload

    kept = b"".join(raw for number, _, raw in _fields(blob) if number in (1, 2))
    # name "identity"; add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces all false
    normalizer = field(1, b"identity") + b"\x18\x00\x20\x00\x28\x00"
    processor = sentencepiece.SentencePieceProcessor()
    try:
        processor.LoadFromSerializedProto(kept + field(3, normalizer))
    except RuntimeError as exc:
        raise ValueError(f"SentencePiece cannot load the model ({exc})") from None
    return processor


class AlbertTokenizer:
    """SentencePiece unigram tokenizer matching ``AlbertTokenizerFast``, with original offsets."""

    def __init__(
        self,
        model: bytes,
        *,
        do_lower_case: bool = True,
        keep_accents: bool = False,
        unk_id: int = 1,
    ) -> None:
        """``model`` is a serialized SentencePiece ``ModelProto`` (a ``spiece.model`` file)."""
        pieces, charsmap = _read_model_proto(model)
        if not pieces:
            raise ValueError("it holds no SentencePiece pieces")
        self.do_lower_case = do_lower_case
        self.keep_accents = keep_accents
        self.unk_id = unk_id
        self._ids = {piece: i for i, (piece, _) in enumerate(pieces)}
        self._sentencepiece = _segmenter(model)
        self._charsmap = _CharsMap(charsmap) if charsmap else None
        self.vocab_size = len(pieces)
        specials = [p for p in ("<pad>", "<unk>", "[CLS]", "[SEP]") if p in self._ids]
        alternatives = [regex.escape(p) for p in specials]
        if "[MASK]" in self._ids:
            # [MASK] is registered with lstrip=True: it swallows the whitespace before it.
            alternatives.insert(0, rf"[{_WS}]*\[MASK\]")
        self._special_re = regex.compile("|".join(alternatives)) if alternatives else None
        self._special_ids = {p: self._ids[p] for p in (*specials, "[MASK]") if p in self._ids}
        self._segment = lru_cache(maxsize=65536)(self._segment_uncached)

    @classmethod
    def from_file(
        cls, path: Path, *, do_lower_case: bool = True, keep_accents: bool = False, unk_id: int = 1
    ) -> AlbertTokenizer:
        """Load a SentencePiece ``spiece.model`` file."""
        try:
            return cls(
                path.read_bytes(),
                do_lower_case=do_lower_case,
                keep_accents=keep_accents,
                unk_id=unk_id,
            )
        except (ValueError, IndexError, struct.error) as exc:
            raise ValueError(f"{path} is not a SentencePiece model: {exc}") from None

    def piece_id(self, piece: str) -> int:
        """Id of a vocabulary piece (``unk_id`` if absent)."""
        return self._ids.get(piece, self.unk_id)

    def normalize(self, text: str, offset: int = 0) -> Aligned:
        """Normalised characters of ``text``, each with its span in the original (+ ``offset``)."""
        chars: Aligned = [(c, (offset + i, offset + i + 1)) for i, c in enumerate(text)]
        chars = _replace_literal(chars, "``", '"')
        chars = _replace_literal(chars, "''", '"')
        if not self.keep_accents:
            chars = _strip_marks(_nfkd(chars))
        if self.do_lower_case:
            chars = _lowercase(chars)
        if self._charsmap is not None:
            chars = _precompiled(chars, self._charsmap)
        return _collapse_spaces(chars)

    def encode(self, text: str) -> Encoding:
        """Token ids and original-text character offsets, without [CLS]/[SEP]."""
        ids: list[int] = []
        offsets: list[Span] = []
        words: list[int] = []
        last = 0
        if self._special_re is not None:
            for match in self._special_re.finditer(text):
                self._encode_segment(text[last : match.start()], last, ids, offsets, words)
                token = "[MASK]" if match.group().endswith("[MASK]") else match.group()
                ids.append(self._special_ids[token])
                offsets.append((match.start(), match.end()))
                words.append(words[-1] + 1 if words else 0)
                last = match.end()
        self._encode_segment(text[last:], last, ids, offsets, words)
        return Encoding(ids, offsets, words)

    def _encode_segment(
        self, text: str, offset: int, ids: list[int], offsets: list[Span], words: list[int]
    ) -> None:
        chars = self.normalize(text, offset)
        if not chars:
            return
        chars = [(_META if c == " " else c, span) for c, span in chars]
        if chars[0][0] != _META:
            chars.insert(0, (_META, chars[0][1]))
        starts = [i for i, (c, _) in enumerate(chars) if c == _META and i > 0]
        first_word = words[-1] + 1 if words else 0
        for index, (begin, end) in enumerate(zip([0, *starts], [*starts, len(chars)], strict=True)):
            word = "".join(c for c, _ in chars[begin:end])
            for piece_id, a, b in self._segment(word):
                ids.append(piece_id)
                words.append(first_word + index)
                offsets.append((chars[begin + a][1][0], chars[begin + b - 1][1][1]))

    def _segment_uncached(self, word: str) -> tuple[tuple[int, int, int], ...]:
        """SentencePiece's segmentation of ``word``: (id, start, end) per piece, unknowns fused."""
        encoded = self._sentencepiece.encode(word, out_type="offset_mapping")
        pieces: list[tuple[int, int, int]] = []
        for piece_id, (start, end) in zip(encoded["ids"], encoded["offsets"], strict=True):
            if piece_id == self.unk_id and pieces and pieces[-1][0] == self.unk_id:
                pieces[-1] = (self.unk_id, pieces[-1][1], end)
            else:
                pieces.append((piece_id, start, end))
        return tuple(pieces)


class Tokenizer(Protocol):
    """What the service needs of a tokenizer: :class:`AlbertTokenizer` or :class:`HfTokenizer`."""

    @property
    def unk_id(self) -> int: ...

    @property
    def vocab_size(self) -> int: ...

    def encode(self, text: str) -> Encoding:
        """Token ids, original-text offsets and word indices, without special tokens."""
        ...


class HfTokenizer:
    """A Hugging Face ``tokenizer.json`` (BERT/DistilBERT WordPiece, RoBERTa byte-level BPE) run
    by the ``tokenizers`` library, as transformers' fast tokenizers run it.

    :meth:`encode` gives what the fast tokenizer gives for the text as the second sequence of a
    (question, context) pair, without the special tokens: ids, character offsets into the original
    text (after the normaliser's accent stripping, lower-casing and CJK splitting, and RoBERTa's
    ``trim_offsets``), and tokenizers' word index of each token. Padding and truncation are
    switched off; the post-processor stays but adds nothing (``add_special_tokens=False``): it is
    what trims a byte-level BPE token's offsets to exclude its leading space, as transformers
    reports them.
    """

    def __init__(self, backend: Any, *, unk_id: int | None = None) -> None:
        """``backend`` is a ``tokenizers.Tokenizer``; ``unk_id`` is used when its model names no
        unknown token (byte-level BPE never needs one)."""
        backend.no_padding()
        backend.no_truncation()
        self._backend = backend
        self.vocab_size: int = backend.get_vocab_size(with_added_tokens=True)
        unk_token = getattr(backend.model, "unk_token", None)
        found = backend.token_to_id(unk_token) if unk_token else None
        if found is None:
            found = unk_id if unk_id is not None else backend.token_to_id("<unk>")
        self.unk_id: int = found if found is not None else 0

    @classmethod
    def from_file(cls, path: Path, *, unk_id: int | None = None) -> HfTokenizer:
        """Load a ``tokenizer.json``; ValueError if it is missing or not a tokenizers file."""
        try:
            backend = _read_tokenizers_file(path)
        except ValueError as exc:
            raise ValueError(f"{path} is not a tokenizers file: {exc}") from None
        return cls(backend, unk_id=unk_id)

    def piece_id(self, piece: str) -> int:
        """Id of a vocabulary token (``unk_id`` if absent)."""
        found = self._backend.token_to_id(piece)
        return self.unk_id if found is None else int(found)

    def encode(self, text: str) -> Encoding:
        """Token ids and original-text character offsets, without [CLS]/[SEP] (``<s>``/``</s>``)."""
        enc = self._backend.encode(text, add_special_tokens=False)
        words: list[int] = []
        for word in enc.word_ids:
            # Without special tokens every token has a word; a None would start a new one.
            words.append(word if word is not None else (words[-1] + 1 if words else 0))
        return Encoding(list(enc.ids), [(int(s), int(e)) for s, e in enc.offsets], words)


def _read_tokenizers_file(path: Path) -> Any:
    """A ``tokenizers.Tokenizer`` from ``path``; ValueError says why it cannot be read."""
    from tokenizers import Tokenizer as Backend  # imported here: ALBERT's path never needs it

    try:
        return Backend.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception for any unreadable file
        raise ValueError(str(exc)) from None


_TOKENIZER_FIX = (
    "Rebuild the model directory with `make models` (the default checkpoint) or "
    "`python -m tools.convert --from-hf SOURCE --out DIR`."
)


def load_tokenizer(config: QaConfig) -> AlbertTokenizer | HfTokenizer:
    """The tokenizer of a model directory: ``spiece.model`` (ALBERT, with its SentencePiece
    options from ``config.tokenizer``) or ``tokenizer.json`` (BERT, DistilBERT, RoBERTa).

    A missing, unreadable or corrupt file raises ModelLoadError saying how to rebuild it.
    """
    path = config.tokenizer_path
    settings = config.tokenizer
    kind = config.family.tokenizer_kind
    try:
        if kind == SENTENCEPIECE:
            return AlbertTokenizer(
                path.read_bytes(),
                do_lower_case=settings.do_lower_case,
                keep_accents=settings.keep_accents,
                unk_id=settings.unk_token_id,
            )
        if kind == TOKENIZERS:
            return HfTokenizer(_read_tokenizers_file(path), unk_id=settings.unk_token_id)
    except (OSError, ValueError, RuntimeError, IndexError, struct.error) as exc:
        # UnicodeDecodeError is a ValueError; a missing or unreadable file an OSError.
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ModelLoadError(
            f"{path} is not a valid {config.family_name} tokenizer file ({reason}). "
            f"{_TOKENIZER_FIX}"
        ) from None
    raise ModelLoadError(f"family {config.family_name!r} has unknown tokenizer kind {kind!r}")


# --- Unicode-version differences ------------------------------------------------------------
# Python 3.11's unicodedata is Unicode 14; tokenizers 0.22 decomposes and strips marks with an
# older table and lower-cases with a newer one. These code points (measured by probing every
# code point against tokenizers 0.22.2) behave as tokenizers does, not as Python would.


def _parse_ranges(spec: str) -> frozenset[int]:
    out: set[int] = set()
    for item in spec.split():
        first, _, last = item.partition("-")
        out.update(range(int(first, 16), int(last or first, 16) + 1))
    return frozenset(out)


#: Marks (per Python) that tokenizers does not know, so StripAccents keeps them.
_KEEP_MARKS = _parse_ranges(
    "7fd 898-89f 8ca-8d3 9fe afa-aff b55 c04 c3c d00 d3b-d3c d81 eba 1715 180f 1abf-1ace 1cf7 "
    "1df6-1dfa a82c a8ff 10d24-10d27 10eab-10eac 10f46-10f50 10f82-10f85 11070 11073-11074 110c2 "
    "11145-11146 111c9 111ce-111cf 1133b 1145e 1182c-1183a 11930-11935 11937-11938 1193b-1193e "
    "11940 11942-11943 119d1-119d7 119da-119e0 119e4 11a01-11a0a 11a33-11a39 11a3b-11a3e 11a47 "
    "11a51-11a5b 11a8a-11a99 11d31-11d36 11d3a 11d3c-11d3d 11d3f-11d45 11d47 11d8a-11d8e "
    "11d90-11d91 11d93-11d97 11ef3-11ef6 16f4f 16f7f-16f87 16fe4 16ff0-16ff1 1cf00-1cf2d "
    "1cf30-1cf46 1e130-1e136 1e2ae 1e2ec-1e2ef"
)
#: Non-marks (per Python) that tokenizers' older table still calls marks.
_EXTRA_MARKS = _parse_ranges("1cf2-1cf3")
#: Characters Python decomposes but tokenizers' NFKD leaves alone.
_NO_NFKD = _parse_ranges(
    "32ff a7f2-a7f4 ab69 10781-10785 10787-107b0 107b2-107ba 11938 1f16c 1fbf0-1fbf9"
)
#: Upper-case letters newer than Python's table: (first, last, delta to the lower-case letter).
_LOWER_DELTAS = (
    (0x1C89, 0x1C89, 1),
    (0xA7CB, 0xA7CB, -0xA567),
    (0xA7CC, 0xA7CC, 1),
    (0xA7CE, 0xA7CE, 1),
    (0xA7D2, 0xA7D2, 1),
    (0xA7D4, 0xA7D4, 1),
    (0xA7DA, 0xA7DA, 1),
    (0xA7DC, 0xA7DC, -0xA641),
    (0x10D50, 0x10D65, 0x20),
    (0x16EA0, 0x16EB8, 0x1B),
)
_LOWER_EXTRA = {
    chr(cp): chr(cp + delta)
    for first, last, delta in _LOWER_DELTAS
    for cp in range(first, last + 1)
}
