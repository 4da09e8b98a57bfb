"""safetensors files: a flat ``name -> tensor`` map, read without unpickling anything.

A ``.safetensors`` file holds exactly what a bare state dict holds, so every loader whose layout
is a flat tensor map reads it unchanged: the bare backbones (``vicreg_backbone``,
``dino_backbone``, ``barlowtwins_backbone``, ``torchvision``, ``timm``), ``swav_official``, and the
inner state dicts of ``mocov3_official`` (``module.base_encoder.*``...) and ``barlowtwins_full``
(``module.backbone.*``, ``module.projector.*``, ``module.bn.*``). Nested containers (DINO's
``student`` / ``teacher``) have no safetensors form.

The file is recognised by its content (an 8-byte little-endian header length followed by a JSON
object), not by its suffix, so a renamed or hub-cached file is read correctly too (recent
``torch.load`` only recognises the ``.safetensors`` suffix). Format:
https://github.com/huggingface/safetensors (``safetensors/src/tensor.rs``, "Format" section).
"""

from __future__ import annotations

import json
import os
import struct
from typing import Dict, Union

from torch import Tensor

_MAX_HEADER = 100_000_000  # the library's own limit on the JSON header


def is_safetensors(path: Union[str, "os.PathLike[str]"]) -> bool:
    """True if ``path`` starts with a safetensors header (length, then a JSON object)."""
    try:
        with open(path, "rb") as f:
            prefix = f.read(8)
            if len(prefix) < 8:
                return False
            (length,) = struct.unpack("<Q", prefix)
            if not 2 <= length <= _MAX_HEADER:
                return False
            header = f.read(length)
    except OSError:
        return False
    if len(header) != length or not header.lstrip().startswith(b"{"):
        return False
    try:
        return isinstance(json.loads(header), dict)
    except ValueError:
        return False


def read_tensor_file(path: Union[str, "os.PathLike[str]"]) -> Dict[str, Tensor]:
    """All tensors of a safetensors file, on CPU (``safetensors.torch.load_file``).

    Raises:
        ImportError: the ``safetensors`` package is not installed (the message says how).
    """
    try:
        from safetensors.torch import load_file
    except ImportError as err:  # optional dependency: only needed for these files
        raise ImportError(
            f"{os.fspath(path)!r} is a safetensors file; reading it needs the 'safetensors' "
            "package: pip install safetensors (or pip install 'e2mc-plugin[safetensors]')"
        ) from err
    return dict(load_file(os.fspath(path), device="cpu"))
