-- Origins a site's widget was refused on, so the owner can see them and allow one with a click.
-- One row per (site, origin); at most a few per site (the application keeps the latest 20), and
-- written at most about once a minute per row, so a stream of refused requests costs little.
CREATE TABLE refused_origins (
    site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    origin TEXT NOT NULL,
    first_seen TIMESTAMP NOT NULL,
    last_seen TIMESTAMP NOT NULL,
    refusals BIGINT NOT NULL,
    example_page TEXT NOT NULL,
    PRIMARY KEY (site_id, origin)
);
CREATE INDEX refused_origins_latest ON refused_origins (site_id, last_seen);
