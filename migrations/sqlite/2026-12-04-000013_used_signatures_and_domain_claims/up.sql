-- Identify signatures already used, so a replay is refused across restarts; kept until the
-- signature's timestamp is out of the replay window anyway, then pruned.
CREATE TABLE used_signatures (
    signature TEXT PRIMARY KEY NOT NULL,
    visitor_id TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX used_signatures_expires ON used_signatures (expires_at);

-- A custom domain a site asked for and has not proven yet. `sites.custom_domain` holds only proven
-- domains (the ones routed by Host); the claim moves there once the domain serves its token.
CREATE TABLE domain_claims (
    site_id TEXT PRIMARY KEY NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    domain TEXT NOT NULL,
    token TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    checked_at TIMESTAMP,
    last_error TEXT
);

-- Domains set before proof existed were never proven: they become pending claims.
INSERT INTO domain_claims (site_id, domain, token, created_at)
    SELECT id, custom_domain, lower(hex(randomblob(16))), CURRENT_TIMESTAMP
    FROM sites WHERE custom_domain IS NOT NULL;
UPDATE sites SET custom_domain = NULL;
