"""The one shared LSTM language model: its sequence space, generator and the small validation helpers."""
