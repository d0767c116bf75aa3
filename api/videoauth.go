package api

import "sharpeyes/authn"

// ticketTTL bounds how long a WHEP redirect ticket may be used.
const ticketTTL = authn.TicketTTL
