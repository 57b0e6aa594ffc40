"""What problems of one kind need, below the strategies: code (programs and their tests), puzzles
(states, steps, exact checkers) and few-shot demonstrations (validated, with provenance)."""
