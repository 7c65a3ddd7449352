-- compose.yaml: the four databases of the topology, owned by the one application user (POSTGRES_USER).
-- rasa: the engines' tracker store; gateway: conversations, staff, LINE inbox; assistant: bookings and the
-- unanswered log (action servers write, gateways read); citydata: the city's open data (action servers read).
CREATE DATABASE rasa;
CREATE DATABASE gateway;
CREATE DATABASE assistant;
CREATE DATABASE citydata;
