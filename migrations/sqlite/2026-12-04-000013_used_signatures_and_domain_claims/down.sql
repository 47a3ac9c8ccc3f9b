UPDATE sites SET custom_domain = (SELECT domain FROM domain_claims WHERE domain_claims.site_id = sites.id)
    WHERE custom_domain IS NULL AND id IN (SELECT site_id FROM domain_claims)
    AND NOT EXISTS (SELECT 1 FROM sites s2, domain_claims c2
                    WHERE c2.site_id = sites.id AND s2.custom_domain = c2.domain);
DROP TABLE domain_claims;
DROP TABLE used_signatures;
