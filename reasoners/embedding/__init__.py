"""Text embedders (TF-IDF, any litellm embedding model) and all-MiniLM-L6-v2 run in numpy."""
