UPDATE sites SET custom_domain = c.domain FROM domain_claims c
    WHERE c.site_id = sites.id AND sites.custom_domain IS NULL
    AND NOT EXISTS (SELECT 1 FROM sites s2 WHERE s2.custom_domain = c.domain);
DROP TABLE domain_claims;
DROP TABLE used_signatures;
