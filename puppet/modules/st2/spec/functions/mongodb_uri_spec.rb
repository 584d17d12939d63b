# frozen_string_literal: true

require_relative '../spec_helper'

describe 'st2::mongodb_uri' do
  it { is_expected.to run.with_params(['127.0.0.1'], 27017).and_return('mongodb://127.0.0.1:27017/') }
  it { is_expected.to run.with_params(['db1', 'db2:27018'], 27017, 'replicaSet' => 'rs0').and_return('mongodb://db1:27017,db2:27018/?replicaSet=rs0') }
  it { is_expected.to run.with_params(['db1'], 27020, 'authSource' => 'st2', 'replicaSet' => nil).and_return('mongodb://db1:27020/?authSource=st2') }
  it { is_expected.to run.with_params(['[::1]'], 27017).and_return('mongodb://[::1]:27017/') }
  it { is_expected.to run.with_params([], 27017).and_raise_error(%r{hosts}) }
end
