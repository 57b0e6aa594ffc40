"""Token, group and trace confidence (Fu et al., "Deep Think with Confidence", DeepConf).

- **Token confidence** ``C_i = -(1/k) * sum_j log P_i(j)`` over the ``k`` most likely tokens at
  position ``i`` (:attr:`TokenLogprob.top <reasoners.llm.types.TokenLogprob>`). High means a
  peaked distribution: the model is sure. Where only the chosen token's logprob is known, that
  formula is not defined (with one token it would rank a flat distribution above a peaked one),
  so the chosen token's probability ``P(chosen)`` stands in: also higher when surer, and a
  cruder signal, said so wherever it is used.
- **Group confidence**: the mean token confidence over a sliding window of ``window`` tokens.
- **Trace confidence**, one number per trace: ``mean`` (all tokens), ``bottom10`` (the mean of the
  lowest 10% of its group confidences), ``lowest`` (its lowest group), ``tail`` (the mean over its
  last ``window`` tokens).

:class:`GroupWatch` follows a trace as it is generated and says when its group confidence first
falls below a threshold: the online cut, shared by every transport.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .types import TokenLogprob

__all__ = ["Measure", "token_confidence", "group_confidences", "trace_confidence", "window_means",
           "measure_confidence", "GroupWatch", "StopBelow", "MEASURES"]

Measure = Literal["mean", "bottom10", "lowest", "tail"]
MEASURES: tuple[str, ...] = ("mean", "bottom10", "lowest", "tail")


def token_confidence(token: TokenLogprob) -> float:
    """``-mean(top-k logprobs)`` at this position; without a top list, the chosen token's probability."""
    if not token.top or len(token.top) < 2:
        return math.exp(token.logprob)
    return -sum(token.top) / len(token.top)


def group_confidences(tokens: Sequence[TokenLogprob], window: int) -> list[float]:
    """The mean token confidence of every window of ``window`` consecutive tokens (one window, the
    whole trace, when it is shorter)."""
    return window_means([token_confidence(t) for t in tokens], window)


def trace_confidence(tokens: Sequence[TokenLogprob], measure: Measure = "bottom10", window: int = 64) -> float | None:
    """One trace's confidence by ``measure`` (see the module docstring); None without tokens."""
    return measure_confidence([token_confidence(t) for t in tokens], measure, window)


def window_means(conf: Sequence[float], window: int) -> list[float]:
    """:func:`group_confidences` over token confidences already computed."""
    if window < 1:
        raise ValueError("window must be >= 1")
    if not conf:
        return []
    if len(conf) <= window:
        return [sum(conf) / len(conf)]
    out, total = [], sum(conf[:window])
    out.append(total / window)
    for i in range(window, len(conf)):
        total += conf[i] - conf[i - window]
        out.append(total / window)
    return out


def measure_confidence(conf: Sequence[float], measure: Measure = "bottom10", window: int = 64) -> float | None:
    """:func:`trace_confidence` over token confidences already computed (a replay keeps only these)."""
    if not conf:
        return None
    if measure == "mean":
        return sum(conf) / len(conf)
    if measure == "tail":
        last = conf[-window:]
        return sum(last) / len(last)
    groups = window_means(conf, window)
    if measure == "lowest":
        return min(groups)
    if measure == "bottom10":
        ordered = sorted(groups)
        keep = ordered[: max(1, math.ceil(0.1 * len(ordered)))]
        return sum(keep) / len(keep)
    raise ValueError(f"unknown confidence measure {measure!r}; known: {', '.join(MEASURES)}")


@dataclass(frozen=True)
class StopBelow:
    """The online cut, as a sampling option: stop generating once the mean token confidence over
    the last ``window`` tokens falls below ``threshold`` (judged once a full window exists)."""

    window: int
    threshold: float


class GroupWatch:
    """Follows one trace token by token; :meth:`add` says True at the first full window whose mean
    token confidence is below the threshold."""

    def __init__(self, rule: StopBelow) -> None:
        self.rule = rule
        self._window: deque[float] = deque(maxlen=rule.window)
        self._total = 0.0
        self.tokens = 0

    def add(self, token: TokenLogprob) -> bool:
        return self.add_confidence(token_confidence(token))

    def add_confidence(self, conf: float) -> bool:
        if len(self._window) == self.rule.window:
            self._total -= self._window[0]
        self._window.append(conf)
        self._total += conf
        self.tokens += 1
        full = len(self._window) == self.rule.window
        return full and self._total / self.rule.window < self.rule.threshold
