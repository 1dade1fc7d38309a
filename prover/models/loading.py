"""Loading models without blocking forever and with one-line errors: devices, dtypes, offline mode, timeouts."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from prover.models.errors import ModelLoadError

log = logging.getLogger(__name__)
T = TypeVar("T")

_TRUE = ("1", "true", "yes", "on")


def hub_offline() -> bool:
    """``HF_HUB_OFFLINE`` (or the older ``TRANSFORMERS_OFFLINE``) is set: never touch the network."""
    return any(os.environ.get(v, "").strip().lower() in _TRUE for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when torch sees a GPU, else ``cpu``; an explicit CUDA device must exist."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelLoadError(f"device {device!r} requested but torch sees no CUDA GPU; use device=cpu or auto")
    return device


def resolve_dtype(dtype: str, device: str) -> Any:
    """A torch dtype (or ``"auto"``: the checkpoint's own on GPU, float32 on CPU)."""
    import torch

    if dtype == "auto":
        return torch.float32 if device == "cpu" else "auto"
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]


def dtype_kwarg(dtype: Any) -> dict[str, Any]:
    """``dtype=`` for transformers >= 4.56, ``torch_dtype=`` before."""
    import transformers

    major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
    return {"dtype": dtype} if (major, minor) >= (4, 56) else {"torch_dtype": dtype}


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def is_oom(e: BaseException) -> bool:
    if isinstance(e, MemoryError):
        return True
    try:
        import torch

        if isinstance(e, torch.OutOfMemoryError):
            return True
    except (ImportError, AttributeError):
        pass
    return isinstance(e, RuntimeError) and "out of memory" in str(e).lower()


def _from_transformers(e: ImportError) -> bool:
    """An import of transformers itself failed (a removed module or name), not a missing package."""
    missing = e.name or ""
    return missing.startswith("transformers.") or "from 'transformers" in str(e)


def _transformers_version() -> str:
    try:
        import transformers

        return transformers.__version__
    except ImportError:  # pragma: no cover - transformers is a dependency
        return "the installed one"


def explain_load_error(e: BaseException, what: str, name: str, device: str = "") -> ModelLoadError:
    """Turn whatever transformers / huggingface_hub raised into one actionable line."""
    if isinstance(e, ModelLoadError):
        return e
    if is_oom(e):
        where = f" on {device}" if device else ""
        return ModelLoadError(
            f"out of memory loading {what} {name!r}{where}: use a smaller model, dtype=bfloat16, or device=cpu"
        )
    msg = _first_line(e)
    # A hub id is NAMESPACE/NAME: a name written as a path that is not there is a typo of a local folder, and
    # the hub's own complaint ("Repo id must be in the form ...") would only confuse.
    as_path = name.startswith(("/", "./", "../", "~")) or name.count("/") > 1
    if as_path and not os.path.exists(os.path.expanduser(name)):
        return ModelLoadError(f"cannot load {what} {name!r}: no such folder")
    missing = (
        "couldn't connect" in msg.lower()
        or "cannot find the requested files" in msg.lower()
        or "local_files_only" in msg
        or type(e).__name__ in ("LocalEntryNotFoundError", "OfflineModeIsEnabled")
    )
    if missing and not os.path.isdir(name):
        how = (
            "HF_HUB_OFFLINE is set"
            if hub_offline()
            else "the Hugging Face Hub cannot be reached (set HF_HUB_OFFLINE=1 to fail fast)"
        )
        return ModelLoadError(
            f"cannot load {what} {name!r}: it is not in the local Hugging Face cache and {how}; "
            f"download it where there is network (`hf download {name}`) or set the model to a local folder"
        )
    if type(e).__name__ in ("RepositoryNotFoundError", "GatedRepoError", "RevisionNotFoundError"):
        return ModelLoadError(f"cannot load {what} {name!r}: {msg}")
    if isinstance(e, ImportError):
        if _from_transformers(e):
            return ModelLoadError(
                f"cannot load {what} {name!r}: its own modeling code (trust_remote_code) was written for an older "
                f"transformers than {_transformers_version()} ({msg}); run it on vLLM (backend = 'vllm', e.g. "
                "--preset internlm) or in an environment with the transformers version its model card names"
            )
        return ModelLoadError(f"cannot load {what} {name!r}: missing Python package: {msg}")
    return ModelLoadError(f"cannot load {what} {name!r}: {type(e).__name__}: {msg}")


def call_with_timeout(fn: Callable[[], T], timeout: float, what: str) -> T:
    """Run ``fn`` in a worker thread; raise `ModelLoadError` if it takes longer than ``timeout`` seconds.

    A timed-out load keeps running in its (daemon) thread until it finishes or the process exits; the caller
    gets a clear error instead of waiting forever.
    """
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            box["error"] = e

    t0 = time.monotonic()
    worker = threading.Thread(target=run, name=f"load {what}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise ModelLoadError(
            f"loading {what} took longer than {timeout:.0f}s (load_timeout); check the network or disk, "
            "or raise the timeout"
        )
    if "error" in box:
        raise box["error"]
    log.info("loaded %s in %.1fs", what, time.monotonic() - t0)
    return box["value"]
