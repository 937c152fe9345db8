"""Where the gateway's AWS credentials come from.

On a Greengrass core, a component that declares a dependency on
``aws.greengrass.TokenExchangeService`` gets ``AWS_CONTAINER_CREDENTIALS_FULL_URI``
and ``AWS_CONTAINER_AUTHORIZATION_TOKEN`` in its environment; botocore's
``ContainerProvider`` fetches (and refreshes, before they expire) the role
credentials from that local endpoint. Off a core (a developer laptop, the local
cloud) we fall back to botocore's default chain: environment, profile, and so on.
botocore is imported when credentials are first resolved, not with this module.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from wardlink.cloudclient.errors import NoCredentialsError


def resolve_credentials(environ: Mapping[str, str] | None = None) -> Any:
    """Refreshable botocore credentials: container provider first, then the default chain.

    ``NoCredentialsError`` if there are none, or if the token exchange service (the
    container endpoint) does not hand them out.
    """
    import botocore.session
    from botocore.credentials import ContainerProvider, EnvProvider
    from botocore.exceptions import BotoCoreError

    env = dict(os.environ if environ is None else environ)
    if ContainerProvider.ENV_VAR_FULL in env or ContainerProvider.ENV_VAR in env:
        try:
            credentials = ContainerProvider(environ=env).load()
        except BotoCoreError as exc:
            raise NoCredentialsError(f"{_NONE} ({exc})") from exc
        if credentials is not None:
            return credentials
    credentials = EnvProvider(environ=env).load()
    if credentials is None:
        credentials = botocore.session.get_session().get_credentials()
    if credentials is None:
        raise NoCredentialsError(_NONE)
    return credentials


_NONE = (
    "no AWS credentials: on Greengrass, depend on aws.greengrass.TokenExchangeService; "
    "elsewhere set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile"
)
