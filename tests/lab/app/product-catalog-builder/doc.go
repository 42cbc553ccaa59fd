// Package function is product-catalog-builder: it validates a product sent
// by a merchant, checks its category against the supplier's category list
// (an outbound fetch, cached in /tmp for a minute), keeps an audit log and
// registers the product with product-catalog-api through the gateway.
//
// A victim function of the lab: what the flow tracer → parse → graph →
// classify → alert watches, not part of it.
package function
