"""embeddings.create as the SDK calls it by default (encoding_format "base64", decoded by the
SDK): `dimensions` floats of unit norm per input, equal to the float encoding's."""

import math
import struct

from sdk_lib import check, client

DIMENSIONS = 64


def run() -> str:
    openai = client()
    texts = ["the first text", "a second, different text"]
    r = openai.embeddings.create(model="text-embedding-3-small", input=texts, dimensions=DIMENSIONS)
    assert r.object == "list" and len(r.data) == len(texts), r
    for i, d in enumerate(r.data):
        assert d.index == i and d.object == "embedding"
        assert isinstance(d.embedding, list) and len(d.embedding) == DIMENSIONS, len(d.embedding)
        assert all(math.isfinite(x) for x in d.embedding)
        norm = math.sqrt(sum(x * x for x in d.embedding))
        assert abs(norm - 1) < 1e-4, f"unit norm, got {norm}"
    assert r.data[0].embedding != r.data[1].embedding, "different texts differ"
    floats = openai.embeddings.create(
        model="text-embedding-3-small", input=texts[0], dimensions=DIMENSIONS, encoding_format="float"
    )
    as_f32 = [struct.unpack("<f", struct.pack("<f", x))[0] for x in floats.data[0].embedding]
    assert as_f32 == r.data[0].embedding, "base64 and float encodings carry the same vector"
    return f"{len(texts)} vectors of {DIMENSIONS} floats, unit norm, base64 equal to float"


check("embeddings", run)
