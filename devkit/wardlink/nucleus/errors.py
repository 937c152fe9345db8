"""IPC errors as the Greengrass IPC client knows them.

The client turns an APPLICATION_ERROR into an exception by looking up the
``service-model-type`` header in its shape index, so each error here carries
the exact model name of a shape that exists in ``awsiot.greengrasscoreipc.model``.
Anything else would reach the component as an opaque ``UnmappedDataError``.
"""

from __future__ import annotations

from typing import Any


class IpcError(Exception):
    """An error answered to one IPC request. The stream ends with it."""

    model_name = "aws.greengrass#ServiceError"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def payload(self) -> dict[str, Any]:
        return {"message": self.message}


class ServiceError(IpcError):
    """The emulator could not do what was asked (broker down, unsupported operation)."""

    model_name = "aws.greengrass#ServiceError"


class UnsupportedOperationError(ServiceError):
    """An operation the emulator does not implement: a ServiceError that says so."""

    def __init__(self, operation: str) -> None:
        super().__init__(
            f"UnsupportedOperation: {operation} is not implemented by the Wardlink nucleus emulator"
        )


class UnauthorizedError(IpcError):
    """No accessControl policy of the caller allows this operation on this resource."""

    model_name = "aws.greengrass#UnauthorizedError"


class InvalidArgumentsError(IpcError):
    """The request is malformed or misses a required field."""

    model_name = "aws.greengrass#InvalidArgumentsError"


class ResourceNotFoundError(IpcError):
    """The configuration key, component or secret does not exist."""

    model_name = "aws.greengrass#ResourceNotFoundError"

    def __init__(self, message: str, resource_type: str = "", resource_name: str = "") -> None:
        super().__init__(message)
        self.resource_type = resource_type
        self.resource_name = resource_name

    def payload(self) -> dict[str, Any]:
        body = super().payload()
        if self.resource_type:
            body["resourceType"] = self.resource_type
        if self.resource_name:
            body["resourceName"] = self.resource_name
        return body


class FailedUpdateConditionCheckError(IpcError):
    """UpdateConfiguration lost against a newer write (its timestamp is older)."""

    model_name = "aws.greengrass#FailedUpdateConditionCheckError"
