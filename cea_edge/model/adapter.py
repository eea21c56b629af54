"""The Cross-Attention Hyper-Adapter and the token-wise assembly (our reconstruction of CEA).

Per image, M learnable hyper tokens attend to a fixed g x g pooled grid of the features
and generate r routing bases U and r residual directions D (each B x r x C). Every pixel
token x then adds its own residual, dense and signed (no softmax over components, no
Top-K)::

    S  = LN(X) U^T * tau          (B, N, r)   the routing maps
    F' = F + gamma * (S D)        gamma zero-initialised: a fresh adapter is the identity

Read as linear attention: tokens are queries, the r bases keys, the r directions values.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from cea_edge.model.config import AdapterConfig
from cea_edge.model.layers import ChannelNorm, GridPool, SigmoidGELU, TokenNorm


class AdapterFactors(NamedTuple):
    """What one adapter generates for one image (or a batch of them).

    routing_bases: (B, r, C); residual_directions: (B, r, C).
    """

    routing_bases: torch.Tensor
    residual_directions: torch.Tensor


class HyperAdapter(nn.Module):
    """Generate (U, D) from pooled features and add the assembled residual to every token."""

    def __init__(self, channels: int, config: AdapterConfig) -> None:
        super().__init__()
        if config.hyper_dim % config.heads:
            raise ValueError("hyper_dim must be a multiple of heads")
        self.rank = config.rank
        head_dim = config.hyper_dim // config.heads
        self.head_dim = head_dim
        self.attention_scale = 1.0 / math.sqrt(head_dim)
        self.routing_scale = 1.0 / math.sqrt(channels)  # tau

        self.pool = GridPool(config.grid)
        self.key_norm = ChannelNorm(channels)
        self.to_keys = nn.Linear(channels, config.hyper_dim)
        self.to_values = nn.Linear(channels, config.hyper_dim)
        # The learnable hyper tokens are the attention queries. Each head's query set is a
        # bias-free Linear over the keys (scores = keys @ tokens^T): XNNPACK takes it as a
        # fully-connected op, where `tokens.expand(B, ...) @ keys` would leave expand_copy
        # outside the delegate.
        self.hyper_queries = nn.ModuleList(
            nn.Linear(head_dim, config.hyper_tokens, bias=False) for _ in range(config.heads)
        )
        self.token_embedding = nn.Parameter(torch.randn(1, config.hyper_tokens, config.hyper_dim) * 0.02)
        self.attention_out = nn.Linear(config.hyper_dim, config.hyper_dim)
        self.mlp_norm = TokenNorm(config.hyper_dim)
        self.mlp = nn.Sequential(
            nn.Linear(config.hyper_dim, 2 * config.hyper_dim),
            SigmoidGELU(),
            nn.Linear(2 * config.hyper_dim, config.hyper_dim),
        )
        # M hyper tokens -> r (u, d) pairs: identity when M == r, a learned mix otherwise.
        self.expand_tokens = (
            nn.Linear(config.hyper_tokens, config.rank, bias=False) if config.hyper_tokens != config.rank else None
        )
        self.to_routing_bases = nn.Linear(config.hyper_dim, channels)
        self.to_residual_directions = nn.Linear(config.hyper_dim, channels)

        self.token_norm = ChannelNorm(channels)
        self.gamma = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def generate(self, features: torch.Tensor) -> AdapterFactors:
        """Hyper tokens cross-attend to the pooled grid of ``features`` (B, C, H, W)."""
        pooled = self.key_norm(self.pool(features)).flatten(2).transpose(1, 2)  # (B, g*g, C)
        keys = self.to_keys(pooled)
        values = self.to_values(pooled)
        heads = []
        for head, query in enumerate(self.hyper_queries):
            head_keys, head_values = keys, values
            if len(self.hyper_queries) > 1:
                # Static slices, not chunk: split_with_sizes (and a whole-range slice,
                # which becomes alias_copy) stay outside XNNPACK.
                span = slice(head * self.head_dim, (head + 1) * self.head_dim)
                head_keys, head_values = keys[..., span], values[..., span]
            # Softmax over the grid positions, taken over the last dim (XNNPACK only
            # delegates last-dim softmax), hence the transpose to (B, M, g*g).
            scores = (query(head_keys) * self.attention_scale).transpose(1, 2)
            heads.append(torch.bmm(scores.softmax(dim=-1), head_values))
        attended = heads[0] if len(heads) == 1 else torch.cat(heads, dim=-1)
        tokens = self.attention_out(attended) + self.token_embedding  # (B, M, d)
        tokens = tokens + self.mlp(self.mlp_norm(tokens))
        if self.expand_tokens is not None:
            tokens = self.expand_tokens(tokens.transpose(1, 2)).transpose(1, 2)  # (B, r, d)
        return AdapterFactors(self.to_routing_bases(tokens), self.to_residual_directions(tokens))

    def assemble(self, features: torch.Tensor, factors: AdapterFactors) -> tuple[torch.Tensor, torch.Tensor]:
        """Apply the generated rank-r residual to every token.

        features: (B, C, H, W); factors from ``generate`` (same batch size B).
        Returns (features + gamma * delta, routing maps (B, r, H, W)).
        """
        tokens = self.token_norm(features).flatten(2)  # (B, C, N)
        routing = torch.bmm(factors.routing_bases, tokens) * self.routing_scale  # (B, r, N)
        delta = torch.bmm(factors.residual_directions.transpose(1, 2), routing)  # (B, C, N)
        updated = features + self.gamma * delta.reshape(features.shape)
        return updated, routing.unflatten(2, features.shape[2:])

    def forward(
        self, features: torch.Tensor, factors: AdapterFactors | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, AdapterFactors]:
        """Returns (updated features, routing maps, the factors used).

        The factors are generated even when ``factors`` is given, and then discarded: NNCF
        names its quantizer hooks by op call order, so skipping ``generate`` would shift
        every later hook of a quantized model onto the wrong op. An exported graph drops the
        unused ops; in eager mode they cost one pass over the pooled g x g grid.
        """
        generated = self.generate(features)
        if factors is None:
            factors = generated
        updated, routing = self.assemble(features, factors)
        return updated, routing, factors
