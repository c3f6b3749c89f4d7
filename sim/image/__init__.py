"""The image: the contract between the compiler and the hardware. A file of 32-bit words, the
network section the core's load stream carries and the event section of the samples; packed,
written, read and validated here, and run straight from its words by the image model.

Modules: :mod:`.format` (layout, sizes, checksum, :class:`Image`, :func:`pack`), :mod:`.decode`
(the one validating decoder), :mod:`.info` (the summary ``ttfs image info`` prints) and
:mod:`.model` (the image model, backend ``image``). The format: ``docs/image.md``.
"""

from ttfs.sim.image.decode import (
    NetworkMemories,
    decode_network,
    from_words,
    load_image,
    parse_events,
    parse_network,
    walk_events,
)
from ttfs.sim.image.format import (
    EVENT_MAGIC,
    EVENT_VERSION,
    HEADER_WORDS,
    MAGIC,
    VERSION,
    Image,
    checksum,
    network_words,
    pack,
    save_image,
    words_per_row,
)
from ttfs.sim.image.info import format_info, image_info
from ttfs.sim.image.model import ImageBackend, run_image

__all__ = [
    "MAGIC",
    "EVENT_MAGIC",
    "VERSION",
    "EVENT_VERSION",
    "HEADER_WORDS",
    "Image",
    "NetworkMemories",
    "pack",
    "save_image",
    "load_image",
    "from_words",
    "parse_network",
    "parse_events",
    "walk_events",
    "decode_network",
    "network_words",
    "words_per_row",
    "checksum",
    "image_info",
    "format_info",
    "run_image",
    "ImageBackend",
]
