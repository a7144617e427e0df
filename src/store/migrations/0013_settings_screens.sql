-- The settings screens: the last webhook delivery per source is read from raw_payloads by (source, newest id), which
-- without this index scans every delivery of the other sources first.
CREATE INDEX raw_payloads_source ON raw_payloads(source, id);

-- A ticket may be assigned to a vendor (a contractor firm) as well as, or instead of, a person.
ALTER TABLE issues ADD COLUMN vendor_id INTEGER REFERENCES vendors(id);
