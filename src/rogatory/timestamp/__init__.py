"""Trusted time (RFC 3161): the node's built-in Time-Stamping Authority (`authority`), token
verification (`verify`), external TSAs and the `timestamper` (`client`), and `POST /tsa`
(`api`)."""
