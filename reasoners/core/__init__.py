"""The ground floor: the exception tree, usage counts, budgets, traces and the problem/result types.

Everything else in the package builds on these modules; they import nothing above them.
"""
