"""Every Salesforce object and field name the adapter uses, and the SOQL it sends. Nothing else names them.

Custom fields (`__c`) are deployed to the org by q2c's package; `Q2C_*` fields on Opportunity receive the saga's
outcome (and describe an amendment), those on Account the customer's last settled payment. On
OpportunityLineItem, `UnitPrice` is the net (sales) price per unit per month, `ListPrice` the list price,
`Discount` the quoted discount in percent and `TotalPrice` the amount of a one-time line. (A real org computes
TotalPrice from quantity, unit price and discount; recurring lines then carry a TotalPrice too, which q2c's
contract mapping ignores for recurring lines.)
"""

from __future__ import annotations

OPPORTUNITY = "Opportunity"
LINE_ITEM = "OpportunityLineItem"

# Opportunity, with its owner and account (and the account's billing contact) read through relationships.
OPP_ID = "Id"
OPP_NAME = "Name"
OPP_STAGE = "StageName"
OPP_CLOSE_DATE = "CloseDate"
OPP_CURRENCY = "CurrencyIsoCode"
OPP_CONTRACT_START = "Contract_Start__c"
OPP_CONTRACT_END = "Contract_End__c"
OPP_ACCOUNT_ID = "AccountId"
OWNER = "Owner"
OWNER_USERNAME = "Username"
ACCOUNT = "Account"
ACCOUNT_ID = "Id"
ACCOUNT_NAME = "Name"
ACCOUNT_STREET = "BillingStreet"
ACCOUNT_CITY = "BillingCity"
ACCOUNT_POSTAL_CODE = "BillingPostalCode"
ACCOUNT_COUNTRY = "BillingCountry"
ACCOUNT_CURRENCY = "CurrencyIsoCode"
ACCOUNT_LEGAL_ENTITY = "Legal_Entity__c"
ACCOUNT_TAX_ID = "Tax_Id__c"
ACCOUNT_PAYMENT_TERMS = "Payment_Terms_Days__c"
BILLING_CONTACT = "Billing_Contact__r"  # the relationship of the lookup field Billing_Contact__c
CONTACT_FIRST_NAME = "FirstName"
CONTACT_LAST_NAME = "LastName"
CONTACT_EMAIL = "Email"

ACCOUNT_FIELDS = (
    ACCOUNT_ID,
    ACCOUNT_NAME,
    ACCOUNT_STREET,
    ACCOUNT_CITY,
    ACCOUNT_POSTAL_CODE,
    ACCOUNT_COUNTRY,
    ACCOUNT_CURRENCY,
    ACCOUNT_LEGAL_ENTITY,
    ACCOUNT_TAX_ID,
    ACCOUNT_PAYMENT_TERMS,
)
CONTACT_FIELDS = (CONTACT_FIRST_NAME, CONTACT_LAST_NAME, CONTACT_EMAIL)

# OpportunityLineItem
LINE_ID = "Id"
LINE_OPPORTUNITY_ID = "OpportunityId"
LINE_NO = "Line_No__c"
PRODUCT = "Product2"
PRODUCT_CODE = "ProductCode"
LINE_QUANTITY = "Quantity"
LINE_LIST_PRICE = "ListPrice"
LINE_UNIT_PRICE = "UnitPrice"
LINE_DISCOUNT = "Discount"
LINE_TOTAL_PRICE = "TotalPrice"
LINE_SERVICE_START = "ServiceDate"
LINE_SERVICE_END = "End_Date__c"
LINE_BILLING_FREQUENCY = "Billing_Frequency__c"
LINE_USAGE_UNIT = "Usage_Unit__c"
LINE_INCLUDED_PER_MONTH = "Included_Per_Month__c"
LINE_OVERAGE_PRICE = "Overage_Unit_Price__c"
LINE_DELIVERED_ON = "Delivered_On__c"

LINE_FIELDS = (
    LINE_ID,
    LINE_NO,
    f"{PRODUCT}.{PRODUCT_CODE}",
    LINE_QUANTITY,
    LINE_LIST_PRICE,
    LINE_UNIT_PRICE,
    LINE_DISCOUNT,
    LINE_TOTAL_PRICE,
    LINE_SERVICE_START,
    LINE_SERVICE_END,
    LINE_BILLING_FREQUENCY,
    LINE_USAGE_UNIT,
    LINE_INCLUDED_PER_MONTH,
    LINE_OVERAGE_PRICE,
    LINE_DELIVERED_ON,
)

# The saga's outcome, written back onto the Opportunity.
Q2C_STATUS = "Q2C_Status__c"
Q2C_SAGA_ID = "Q2C_Saga_Id__c"
Q2C_CONTRACT_ID = "Q2C_Contract_Id__c"
Q2C_ERP_CUSTOMER_ID = "Q2C_ERP_Customer_Id__c"
Q2C_BILLING_CUSTOMER_ID = "Q2C_Billing_Customer_Id__c"
Q2C_SUBSCRIPTION_ID = "Q2C_Subscription_Id__c"
Q2C_REVENUE_CONTRACT_ID = "Q2C_Revenue_Contract_Id__c"
Q2C_MESSAGE = "Q2C_Message__c"
Q2C_MESSAGE_LENGTH = 255  # Text(255) in the org

# An amendment: an Opportunity of Type "Amendment" naming the contract version it changes; its line items are the
# changes (Line_No__c numbers them, Quantity is the new quantity, UnitPrice the new net price per month).
OPP_TYPE = "Type"  # Salesforce's standard picklist: "New Business", "Amendment", ...
OPP_AMENDED_CONTRACT_ID = "Q2C_Amended_Contract_Id__c"  # Text(80)
OPP_AMENDED_CONTRACT_VERSION = "Q2C_Amended_Contract_Version__c"  # Number(18, 0)
OPP_EFFECTIVE_AT = "Q2C_Effective_At__c"  # Date/Time
OPP_CREDIT_BEHAVIOR = "Q2C_Credit_Behavior__c"  # Picklist: credit_note, carry_forward
OPP_ADDED_GOODS_DISTINCT = "Q2C_Added_Goods_Distinct__c"  # Checkbox
OPP_PRICED_AT_SSP = "Q2C_Priced_At_SSP__c"  # Checkbox
OPP_REMAINING_GOODS_DISTINCT = "Q2C_Remaining_Goods_Distinct__c"  # Checkbox
LINE_CHANGE = "Q2C_Change__c"  # Picklist: quantity, add_product, remove_product, price, term_extension, cancellation
LINE_CONTRACT_LINE = "Q2C_Contract_Line__c"  # Number(3, 0): the contract line changed
LINE_TERM_END = "Q2C_Term_End__c"  # Date: the new last day of the term (term_extension)
LINE_CANCELLATION = "Q2C_Cancellation__c"  # Picklist: immediate, period_end

AMENDMENT_FIELDS = (
    OPP_ID,
    OPP_NAME,
    OPP_TYPE,
    OPP_STAGE,
    OPP_CURRENCY,
    OPP_ACCOUNT_ID,
    f"{OWNER}.{OWNER_USERNAME}",
    OPP_AMENDED_CONTRACT_ID,
    OPP_AMENDED_CONTRACT_VERSION,
    OPP_EFFECTIVE_AT,
    OPP_CREDIT_BEHAVIOR,
    OPP_ADDED_GOODS_DISTINCT,
    OPP_PRICED_AT_SSP,
    OPP_REMAINING_GOODS_DISTINCT,
)
CHANGE_FIELDS = (
    LINE_ID,
    LINE_NO,
    f"{PRODUCT}.{PRODUCT_CODE}",
    LINE_CHANGE,
    LINE_CONTRACT_LINE,
    LINE_QUANTITY,
    LINE_UNIT_PRICE,
    LINE_TERM_END,
    LINE_CANCELLATION,
)

# The amendment saga's outcome, written back onto the amendment Opportunity (with Q2C_Status__c, Q2C_Saga_Id__c,
# Q2C_Contract_Id__c and Q2C_Message__c above).
Q2C_CONTRACT_VERSION = "Q2C_Contract_Version__c"  # Number(18, 0): the version the amendment made
Q2C_TOTAL_CONTRACT_VALUE = "Q2C_Total_Contract_Value__c"  # Currency(16, 2), in the opportunity's currency
Q2C_INVOICE_IDS = "Q2C_Invoice_Ids__c"  # Long Text Area: the billing invoice IDs, one a line
Q2C_CREDIT_NOTE_IDS = "Q2C_Credit_Note_Ids__c"  # Long Text Area: the billing credit note IDs, one a line

# The customer's payment status, written onto the Account when a payment settles an invoice.
ACCOUNT_OBJECT = "Account"
Q2C_LAST_PAYMENT_DATE = "Q2C_Last_Payment_Date__c"  # Date
Q2C_LAST_PAYMENT_AMOUNT = "Q2C_Last_Payment_Amount__c"  # Currency(16, 2), in the account's currency
Q2C_OPEN_RECEIVABLE = "Q2C_Open_Receivable__c"  # Currency(16, 2)
Q2C_PAYMENT_STATUS = "Q2C_Payment_Status__c"  # Text(40): "current" or "open"
Q2C_LAST_INVOICE_PAID = "Q2C_Last_Invoice_Paid__c"  # Text(255): the billing invoice ID


def soql_string(value: str) -> str:
    """A quoted SOQL string literal."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r")
    return f"'{escaped}'"


def opportunity_query(opportunity_id: str) -> str:
    selected = [
        OPP_ID,
        OPP_NAME,
        OPP_STAGE,
        OPP_CLOSE_DATE,
        OPP_CURRENCY,
        OPP_CONTRACT_START,
        OPP_CONTRACT_END,
        OPP_ACCOUNT_ID,
        f"{OWNER}.{OWNER_USERNAME}",
        *(f"{ACCOUNT}.{name}" for name in ACCOUNT_FIELDS),
        *(f"{ACCOUNT}.{BILLING_CONTACT}.{name}" for name in CONTACT_FIELDS),
    ]
    return f"SELECT {', '.join(selected)} FROM {OPPORTUNITY} WHERE {OPP_ID} = {soql_string(opportunity_id)} LIMIT 1"


def line_items_query(opportunity_id: str) -> str:
    return (
        f"SELECT {', '.join(LINE_FIELDS)} FROM {LINE_ITEM} "
        f"WHERE {LINE_OPPORTUNITY_ID} = {soql_string(opportunity_id)} "
        f"ORDER BY {LINE_NO} ASC NULLS LAST, {LINE_ID} ASC"
    )


def amendment_query(opportunity_id: str) -> str:
    where = f"{OPP_ID} = {soql_string(opportunity_id)}"
    return f"SELECT {', '.join(AMENDMENT_FIELDS)} FROM {OPPORTUNITY} WHERE {where} LIMIT 1"


def changes_query(opportunity_id: str) -> str:
    return (
        f"SELECT {', '.join(CHANGE_FIELDS)} FROM {LINE_ITEM} "
        f"WHERE {LINE_OPPORTUNITY_ID} = {soql_string(opportunity_id)} "
        f"ORDER BY {LINE_NO} ASC NULLS LAST, {LINE_ID} ASC"
    )


def opportunity_currency_query(opportunity_id: str) -> str:
    """What `record_amendment_outcome` checks before writing an amount: the opportunity's currency."""
    where = f"{OPP_ID} = {soql_string(opportunity_id)}"
    return f"SELECT {OPP_ID}, {OPP_CURRENCY} FROM {OPPORTUNITY} WHERE {where} LIMIT 1"


def account_payment_query(account_id: str) -> str:
    """What `record_account_payment` checks before writing: the account's currency and its last payment date."""
    selected = [ACCOUNT_ID, ACCOUNT_CURRENCY, Q2C_LAST_PAYMENT_DATE]
    return f"SELECT {', '.join(selected)} FROM {ACCOUNT_OBJECT} WHERE {ACCOUNT_ID} = {soql_string(account_id)} LIMIT 1"
