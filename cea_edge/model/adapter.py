"""The Cross-Attention Hyper-Adapters and their token-wise assembly (our reconstruction of CEA).

Both designs share the hyper-network (``HyperTokens``): per image, M learnable hyper tokens
attend to a fixed g x g pooled grid of the features. What the tokens generate differs.

v1 (``HyperAdapter``, the ``edge`` preset): r routing bases U and r residual directions D
(each B x r x C). Every pixel token x then adds its own residual, dense and signed (no
softmax over components, no Top-K)::

    S  = LN(X) U^T * tau          (B, N, r)   the routing maps
    F' = F + gamma * (S D)        gamma zero-initialised: a fresh adapter is the identity

Read as linear attention: tokens are queries, the r bases keys, the r directions values.

v2 (``ExpertAdapter``, the ``edge2`` preset): a bank of r rank-1 experts (u_k, d_k) held as
two 1x1 convolutions, assembled per image by generated gains -- routing gains a (B, r) and
direction gains b (B, C)::

    S  = a * (U X)                (B, r, H, W) the routing maps
    F' = F + b * (D S)            D zero-initialised: a fresh adapter is the identity

so each image's operator is diag(b) D diag(a) U, of rank <= r. The per-pixel work is two
convolutions and two broadcast multiplies, which int8 kernels take whole, where v1's
per-image bmm of two activations (and its LayerNorm) stays in float between quantize /
dequantize pairs.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from cea_edge.model.config import AdapterConfig
from cea_edge.model.layers import ChannelNorm, GridPool, SigmoidGELU, TokenNorm


class AdapterFactors(NamedTuple):
    """What one v1 adapter generates for one image (or a batch of them).

    routing_bases: (B, r, C); residual_directions: (B, r, C).
    """

    routing_bases: torch.Tensor
    residual_directions: torch.Tensor


class ExpertGains(NamedTuple):
    """What one v2 adapter generates: routing_gains (B, r, 1, 1), direction_gains (B, C, 1, 1)."""

    routing_gains: torch.Tensor
    direction_gains: torch.Tensor


class Adapter(nn.Module):
    """What both adapter designs do per block: generate factors from the features, assemble them."""

    rank: int

    def generate(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def assemble(self, features: torch.Tensor, factors: tuple[torch.Tensor, torch.Tensor]
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def forward(self, features: torch.Tensor, factors: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
        """Returns (updated features, routing maps, the factors used, the factors generated).

        The factors are generated even when ``factors`` is given: training in global-context
        mode compares them with the given ones, and NNCF names its quantizer hooks by op call
        order, so skipping ``generate`` would shift every later hook of a quantized model onto
        the wrong op. An exported graph drops the unused ops; in eager mode they cost one pass
        over the pooled g x g grid.
        """
        generated = self.generate(features)
        used = generated if factors is None else factors
        updated, routing = self.assemble(features, used)
        return updated, routing, used, generated


class HyperTokens(nn.Module):
    """The hyper-network both designs share: M hyper tokens cross-attend to the g x g pooled
    grid of the features and come out as (B, M, d) tokens (``tokens``).

    v1's adapter subclasses it, so that its parameters keep the state-dict names of v1
    checkpoints; v2's holds one as ``hyper``.
    """

    def __init__(self, channels: int, config: AdapterConfig) -> None:
        super().__init__()
        self.rank = config.rank
        if config.hyper_dim % config.heads:
            raise ValueError("hyper_dim must be a multiple of heads")
        head_dim = config.hyper_dim // config.heads
        self.head_dim = head_dim
        self.attention_scale = 1.0 / math.sqrt(head_dim)

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

    def tokens(self, features: torch.Tensor) -> torch.Tensor:
        """(B, M, d) hyper tokens after cross-attending to the pooled grid of ``features`` (B, C, H, W)."""
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
        return tokens + self.mlp(self.mlp_norm(tokens))


class HyperAdapter(HyperTokens, Adapter):
    """v1: generate (U, D) per image and add the assembled residual to every token."""

    def __init__(self, channels: int, config: AdapterConfig) -> None:
        super().__init__(channels, config)
        self.routing_scale = 1.0 / math.sqrt(channels)  # tau
        # M hyper tokens -> r (u, d) pairs: identity when M == r, a learned mix otherwise.
        self.expand_tokens = (
            nn.Linear(config.hyper_tokens, config.rank, bias=False) if config.hyper_tokens != config.rank else None
        )
        self.to_routing_bases = nn.Linear(config.hyper_dim, channels)
        self.to_residual_directions = nn.Linear(config.hyper_dim, channels)

        self.token_norm = ChannelNorm(channels)
        self.gamma = nn.Parameter(torch.zeros(1, channels, 1, 1))

    @staticmethod
    def factors_from(first: torch.Tensor, second: torch.Tensor) -> AdapterFactors:
        return AdapterFactors(first, second)

    def generate(self, features: torch.Tensor) -> AdapterFactors:
        """Hyper tokens cross-attend to the pooled grid of ``features`` (B, C, H, W)."""
        tokens = self.tokens(features)
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

    def operators(self, factors: AdapterFactors) -> torch.Tensor:
        """(B, C, C): each image's assembled per-pixel map (before gamma and the token norm)."""
        return factors.residual_directions.transpose(1, 2) @ factors.routing_bases * self.routing_scale


class ExpertAdapter(Adapter):
    """v2: a bank of r static rank-1 experts assembled per image by generated gains.

    mode "dynamic": the hyper-network generates the gains; "static" (the ablation): the
    gains are learned parameters, the same for every image -- a static low-rank adapter of
    the same rank.
    """

    def __init__(self, channels: int, config: AdapterConfig) -> None:
        super().__init__()
        self.rank = config.rank
        self.static = config.mode == "static"
        self.experts_in = nn.Conv2d(channels, config.rank, 1)  # U: the routing bases
        self.experts_out = nn.Conv2d(config.rank, channels, 1)  # D: the residual directions
        nn.init.zeros_(self.experts_out.weight)
        nn.init.zeros_(self.experts_out.bias)
        if self.static:
            self.routing_gains = nn.Parameter(torch.ones(1, config.rank, 1, 1))
            self.direction_gains = nn.Parameter(torch.ones(1, channels, 1, 1))
            return
        self.hyper = HyperTokens(channels, config)
        tokens = config.hyper_tokens * config.hyper_dim
        # 1x1 convolutions on the (B, M*d, 1, 1) tokens: the gains come out in the shape the
        # multiplies take, with no reshape between their quantizer and the integer multiply.
        self.to_routing_gains = nn.Conv2d(tokens, config.rank, 1)
        self.to_direction_gains = nn.Conv2d(tokens, channels, 1)
        # Gains start at 1 from the biases (no "1 +" op in the graph), near-zero weights: a
        # fresh adapter assembles every expert once, and training learns what to vary per image.
        for head in (self.to_routing_gains, self.to_direction_gains):
            nn.init.normal_(head.weight, std=0.01)
            nn.init.ones_(head.bias)

    @staticmethod
    def factors_from(first: torch.Tensor, second: torch.Tensor) -> ExpertGains:
        return ExpertGains(first, second)

    def generate(self, features: torch.Tensor) -> ExpertGains:
        if self.static:
            return ExpertGains(self.routing_gains, self.direction_gains)
        flat = self.hyper.tokens(features).flatten(1)[:, :, None, None]  # (B, M * d, 1, 1)
        return ExpertGains(self.to_routing_gains(flat), self.to_direction_gains(flat))

    def assemble(self, features: torch.Tensor, factors: ExpertGains) -> tuple[torch.Tensor, torch.Tensor]:
        routing = self.experts_in(features) * factors.routing_gains  # (B, r, H, W)
        return features + self.experts_out(routing) * factors.direction_gains, routing

    def operators(self, factors: ExpertGains) -> torch.Tensor:
        """(B, C, C): each image's assembled per-pixel map diag(b) D diag(a) U."""
        experts_in = self.experts_in.weight[:, :, 0, 0]  # (r, C)
        experts_out = self.experts_out.weight[:, :, 0, 0]  # (C, r)
        routing_gains = factors.routing_gains.flatten(1)  # (B or 1, r)
        direction_gains = factors.direction_gains.flatten(1)  # (B or 1, C)
        return direction_gains[:, :, None] * (experts_out * routing_gains[:, None, :]) @ experts_in
