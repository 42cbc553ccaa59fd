// Package function is purchase-get-price: it prices a basket by looking
// every item up in product-catalog-api (through the gateway), applies the
// tax rate of the shipping region (a table shipped with the function) and
// hands the priced order to purchase-authorize-cc.
//
// A victim function of the lab: what the flow tracer → parse → graph →
// classify → alert watches, not part of it.
package function
