//! Local LLM servers (Ollama, OpenAI-compatible) and cleaning their messy CSV output.
