"""The Tower Sentinel error model and the classifier for ComfyUI execution failures.

    TowerError                      base: message, category, severity, context, correlation_id, error_id, timestamp
    ├── ComfyUIError                status_code, response_data         (network/high)
    ├── EchoBrainError              model_used, status_code, retry_after, transient  (dependency/medium)
    ├── KBError                     status_code, retry_after, transient              (dependency/medium)
    ├── QualityValidationError      validation_type, quality_score     (quality/medium)
    ├── ResourceExhaustionError     resource_type, current_usage       (resource/high)
    ├── DatabaseError                                                  (system/high)
    └── DependencyUnavailable       dependency, retry_after            (dependency/medium; breaker open)

Categories keep the seed's six and add the ones real ComfyUI failures need. ``classify_execution_error`` maps an
``execution_error`` message of ComfyUI (exception type, message, node class) onto category and severity.
"""

from __future__ import annotations

import re
import traceback
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from typing import Any

__all__ = [
    "ErrorCategory",
    "ErrorSeverity",
    "TowerError",
    "ComfyUIError",
    "EchoBrainError",
    "KBError",
    "QualityValidationError",
    "ResourceExhaustionError",
    "DatabaseError",
    "DependencyUnavailable",
    "Classification",
    "classify_execution_error",
    "new_error_id",
]


class ErrorCategory(str, Enum):
    # the seed's six
    NETWORK = "network"
    GENERATION = "generation"
    VALIDATION = "validation"
    AUTHENTICATION = "authentication"
    RESOURCE = "resource"
    SYSTEM = "system"
    # what classifying real ComfyUI failures needs
    OUT_OF_MEMORY = "out_of_memory"
    MODEL_MISSING = "model_missing"
    TIMEOUT = "timeout"
    INTERRUPTED = "interrupted"
    DEPENDENCY = "dependency"
    QUALITY = "quality"
    CRASHED = "crashed"


class ErrorSeverity(str, Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


def new_error_id() -> str:
    """A 32-hex error id (fits the seed's VARCHAR(50))."""
    return uuid.uuid4().hex


class TowerError(Exception):
    """Base of every error Tower Sentinel raises or records."""

    default_category = ErrorCategory.SYSTEM
    default_severity = ErrorSeverity.MEDIUM

    def __init__(
        self,
        message: str,
        *,
        category: ErrorCategory | str | None = None,
        severity: ErrorSeverity | str | None = None,
        context: dict[str, Any] | None = None,
        correlation_id: str | None = None,
        error_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.category = ErrorCategory(category) if category else self.default_category
        self.severity = ErrorSeverity(severity) if severity else self.default_severity
        self.context: dict[str, Any] = dict(context or {})
        self.correlation_id = correlation_id
        self.error_id = error_id or new_error_id()
        self.timestamp = datetime.now(timezone.utc)

    def to_dict(self) -> dict[str, Any]:
        tb = None
        if self.__traceback__ is not None:
            tb = "".join(traceback.format_exception(type(self), self, self.__traceback__))
        return {
            "error_id": self.error_id,
            "type": type(self).__name__,
            "message": self.message,
            "category": self.category.value,
            "severity": self.severity.value,
            "context": self.context,
            "correlation_id": self.correlation_id,
            "timestamp": self.timestamp.isoformat(),
            "stack_trace": tb,
        }


class ComfyUIError(TowerError):
    default_category = ErrorCategory.NETWORK
    default_severity = ErrorSeverity.HIGH

    def __init__(self, message: str, *, status_code: int | None = None, response_data: Any = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.status_code = status_code
        self.response_data = response_data
        self.context.update(service="ComfyUI", status_code=status_code)


class EchoBrainError(TowerError):
    default_category = ErrorCategory.DEPENDENCY
    default_severity = ErrorSeverity.MEDIUM

    def __init__(
        self,
        message: str,
        *,
        model_used: str | None = None,
        status_code: int | None = None,
        retry_after: float | None = None,
        transient: bool | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(message, **kw)
        self.model_used = model_used
        self.status_code = status_code
        self.retry_after = retry_after  # the service's Retry-After, seconds
        self.transient = transient  # True: worth retrying; None: decide from status_code
        self.context.update(service="Echo Brain", model_used=model_used, status_code=status_code)


class KBError(TowerError):
    default_category = ErrorCategory.DEPENDENCY
    default_severity = ErrorSeverity.MEDIUM

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
        transient: bool | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(message, **kw)
        self.status_code = status_code
        self.retry_after = retry_after
        self.transient = transient
        self.context.update(service="Tower KB", status_code=status_code)


class QualityValidationError(TowerError):
    default_category = ErrorCategory.QUALITY
    default_severity = ErrorSeverity.MEDIUM

    def __init__(
        self, message: str, *, validation_type: str = "technical_quality", quality_score: float | None = None, **kw: Any
    ) -> None:
        super().__init__(message, **kw)
        self.validation_type = validation_type
        self.quality_score = quality_score
        self.context.update(validation_type=validation_type, quality_score=quality_score)


class ResourceExhaustionError(TowerError):
    default_category = ErrorCategory.RESOURCE
    default_severity = ErrorSeverity.HIGH

    def __init__(self, message: str, *, resource_type: str, current_usage: Any = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.resource_type = resource_type
        self.current_usage = current_usage
        self.context.update(resource_type=resource_type, current_usage=current_usage)


class DatabaseError(TowerError):
    default_category = ErrorCategory.SYSTEM
    default_severity = ErrorSeverity.HIGH


class DependencyUnavailable(TowerError):
    """A call was rejected without being made: the dependency's circuit breaker is open."""

    default_category = ErrorCategory.DEPENDENCY
    default_severity = ErrorSeverity.MEDIUM

    def __init__(self, dependency: str, *, retry_after: float | None = None, message: str | None = None, **kw: Any) -> None:
        super().__init__(message or f"{dependency} is unavailable (circuit open)", **kw)
        self.dependency = dependency
        self.retry_after = retry_after
        self.context.update(dependency=dependency, retry_after=retry_after)


# --- classification of ComfyUI execution errors -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Classification:
    category: ErrorCategory
    severity: ErrorSeverity


_OOM = re.compile(
    r"out of memory|OutOfMemoryError|CUDA error: out of memory|allocat\w* .*(memory|bytes)|HIP out of memory"
    r"|MPS backend out of memory|DefaultCPUAllocator: (can't|not enough memory)|ResourceExhausted",
    re.IGNORECASE,
)
_MISSING = re.compile(
    r"(no such file|not found|does not exist|could not find|cannot find|missing).*"
    r"(\.safetensors|\.ckpt|\.pt|\.pth|\.bin|\.gguf|model|checkpoint|lora|vae|file)"
    r"|(ckpt_name|lora_name|vae_name|unet_name|clip_name|control_net_name)|Value not in list",
    re.IGNORECASE,
)
_TIMEOUT = re.compile(r"timed? ?out|TimeoutError|deadline exceeded", re.IGNORECASE)
_NETWORK = re.compile(r"ConnectionError|connection (refused|reset|aborted)|ClientConnector|Name or service", re.IGNORECASE)
_AUTH = re.compile(r"unauthori[sz]ed|forbidden|\b401\b|\b403\b|api[_ ]key|authentication", re.IGNORECASE)


def classify_execution_error(
    exception_type: str | None, message: str | None, node_type: str | None = None, *, interrupted: bool = False
) -> Classification:
    """Map a failed ComfyUI execution (exception type, message, node class) onto category and severity."""
    et = exception_type or ""
    msg = message or ""
    text = f"{et}: {msg}"
    if interrupted or et.endswith("InterruptProcessingException"):
        return Classification(ErrorCategory.INTERRUPTED, ErrorSeverity.LOW)
    if et.endswith("QualityValidationError"):
        return Classification(ErrorCategory.QUALITY, ErrorSeverity.MEDIUM)
    if et.endswith("OutOfMemoryError") or _OOM.search(text):
        return Classification(ErrorCategory.OUT_OF_MEMORY, ErrorSeverity.HIGH)
    if et in ("FileNotFoundError",) or _MISSING.search(text):
        return Classification(ErrorCategory.MODEL_MISSING, ErrorSeverity.HIGH)
    if _TIMEOUT.search(text):
        return Classification(ErrorCategory.TIMEOUT, ErrorSeverity.MEDIUM)
    if _NETWORK.search(text):
        return Classification(ErrorCategory.NETWORK, ErrorSeverity.MEDIUM)
    if _AUTH.search(text):
        return Classification(ErrorCategory.AUTHENTICATION, ErrorSeverity.HIGH)
    if et.endswith("DependencyUnavailable"):
        return Classification(ErrorCategory.DEPENDENCY, ErrorSeverity.MEDIUM)
    if et in ("MemoryError",):
        return Classification(ErrorCategory.RESOURCE, ErrorSeverity.CRITICAL)
    if et in ("ValueError", "TypeError", "KeyError", "IndexError", "AssertionError") and "shape" in msg.lower():
        return Classification(ErrorCategory.VALIDATION, ErrorSeverity.MEDIUM)
    return Classification(ErrorCategory.GENERATION, ErrorSeverity.HIGH)


def classify_rejection(error_type: str | None) -> Classification:
    """A prompt ComfyUI refused (HTTP 400) is always a validation error; an unknown node class is higher."""
    if error_type == "invalid_prompt":
        return Classification(ErrorCategory.VALIDATION, ErrorSeverity.HIGH)
    return Classification(ErrorCategory.VALIDATION, ErrorSeverity.MEDIUM)
