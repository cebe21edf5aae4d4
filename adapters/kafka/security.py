"""How every flowsight Kafka client connects: the address, TLS and SASL, from one place.

The producer, the admin client, the lag reader, the dead-letter reader, the API's live feed and
Faust's broker credentials all take their connection options from `client_options` (or, for
Faust, `faust_credentials`), so a cluster that needs TLS and SCRAM is configured once, in the
FLOWSIGHT_KAFKA_* settings, and no client can be left talking plain text to it.
"""

from __future__ import annotations

import ssl
from typing import Any

from flowsight.settings import Settings

#: A client's target: the settings (address and security) or a bare `host:port`, which only a
#: local, plain-text broker (tests, the local broker's own probe) is reached by.
KafkaTarget = Settings | str


def client_options(target: KafkaTarget) -> dict[str, Any]:
    """aiokafka's connection options (bootstrap servers, TLS, SASL) for any client."""
    if isinstance(target, str):
        return {"bootstrap_servers": target}
    options: dict[str, Any] = {
        "bootstrap_servers": target.kafka_bootstrap,
        "security_protocol": target.kafka_security_protocol,
    }
    context = tls_context(target)
    if context is not None:
        options["ssl_context"] = context
    if target.kafka_security_protocol.startswith("SASL_"):
        options |= {
            "sasl_mechanism": target.kafka_sasl_mechanism,
            "sasl_plain_username": target.kafka_sasl_username,
            "sasl_plain_password": sasl_password(target),
        }
    return options


def sasl_password(settings: Settings) -> str:
    """The SASL password (the settings refuse SASL without one; a copy may have lost it)."""
    if settings.kafka_sasl_password is None:
        raise ValueError("FLOWSIGHT_KAFKA_SASL_PASSWORD is needed for SASL")
    return settings.kafka_sasl_password.get_secret_value()


def bootstrap_of(target: KafkaTarget) -> str:
    """The `host:port` list a target names, for messages."""
    return target if isinstance(target, str) else target.kafka_bootstrap


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context for SSL and SASL_SSL: the configured CA (else the system's), host names
    checked, and the client certificate when one is configured; None without TLS."""
    if not settings.kafka_security_protocol.endswith("SSL"):
        return None
    cafile = str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if settings.kafka_ssl_certfile is not None and settings.kafka_ssl_keyfile is not None:
        context.load_cert_chain(settings.kafka_ssl_certfile, settings.kafka_ssl_keyfile)
    return context


def faust_credentials(settings: Settings) -> Any:
    """Faust's `broker_credentials` for the same settings (None for plain text)."""
    import faust

    context = tls_context(settings)
    if settings.kafka_security_protocol.startswith("SASL_"):
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=sasl_password(settings),
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=context,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None
