"""Agent: the conversation, the generation of replies, and retrieval of documents."""
