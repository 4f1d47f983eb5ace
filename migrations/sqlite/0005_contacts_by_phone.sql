-- An inbound call looks its caller up among the campaign contacts
-- (`inbound_contact_vars`): without this index every inbound call scanned
-- every contact of every campaign.
CREATE INDEX contacts_phone ON contacts (phone);
