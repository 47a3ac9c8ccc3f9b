DROP TABLE refused_origins;
