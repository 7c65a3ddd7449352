"""What the engine knows: city open data (citydata/), the garbage item matcher, the FAQ retriever."""
