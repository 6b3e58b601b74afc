// The practical limit: the minimal handler of bare-handler.mjs on plain node:http.
import { bareHandler } from './bare-handler.mjs'
import { serve } from './common.mjs'

serve(bareHandler('/files/'))
