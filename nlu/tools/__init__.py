"""Developer tools of the NLU (not used at run time)."""
