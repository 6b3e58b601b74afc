export { storeContract, type StoreContractOptions } from './store-contract.js'
